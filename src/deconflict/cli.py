"""The ``deconflict`` command line: each command is a few lines calling the service."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from deconflict import __version__, errors
from deconflict.clock import SystemClock
from deconflict.config import Settings, load_settings
from deconflict.conflicts import SeparationPolicy
from deconflict.interchange import conflict_to_json, notices_from_geojson
from deconflict.theater import iter_conflicts

__all__ = ["main"]


def _error_json(exc: errors.DeconflictError) -> str:
    body = exc.to_dict()
    body["id"] = uuid.uuid4().hex[:12]
    return json.dumps({"error": body})


def _settings(args: argparse.Namespace, **flags: Any) -> Settings:
    return load_settings(getattr(args, "config", None), db=getattr(args, "db", None), **flags)


def _service(settings: Settings) -> Any:
    from deconflict.service import Service
    from deconflict.store import open_store

    return Service(open_store(settings.db), SystemClock(), settings)


def _read_json(name: str) -> Any:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.BadRequest(f"cannot read {name}: {exc.strerror}", field="FILE") from None
    except UnicodeDecodeError:
        raise errors.BadRequest(f"{name} is not UTF-8 text", field="FILE") from None
    with contextlib.suppress(orjson.JSONDecodeError):
        return orjson.loads(text)  # about three times as fast as the standard parser
    # The standard parser reads what orjson refuses (NaN, Infinity), so that the
    # check names the field holding it, and words its own errors otherwise.
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.BadRequest(f"not JSON: {exc.msg} at line {exc.lineno}", field="FILE") from None


def _check(args: argparse.Namespace) -> int:
    # A large file is millions of small objects that never form cycles: the cyclic
    # collector would rescan them all again and again (about a quarter of the time).
    gc.disable()
    doc = _read_json(args.file)
    features = doc.get("features") if isinstance(doc, dict) else None
    count = len(features) if isinstance(features, list) else 0
    with _bar(count, "parsed", "feature") as bar:
        notices = notices_from_geojson(doc, progress=bar.update)
    del doc, features  # the notices hold what they need
    policy = SeparationPolicy().overriding(
        args.buffer_lateral, args.buffer_vertical, args.buffer_time
    )
    with _bar(0, "checked", "pair", disable=count <= _CHECK_BAR_FROM) as bar:
        conflicts = iter_conflicts(notices, policy, progress=bar.update)
        if args.json:
            found = _write_json(conflicts)
        else:
            found = _write_lines(conflicts)
            print(f"{found} conflict(s) among {len(notices)} notice(s)")
    return 1 if found else 0


def _write_json(conflicts: Iterator[Any]) -> int:
    """One conflict per line, written as found: valid JSON, readable with grep and less.

    Conflicts are not all held at once, and orjson writes them, straight to the bytes
    of stdout (the standard encoder took a third of a 50,000-operation check).
    """
    sys.stdout.flush()
    out = sys.stdout.buffer
    out.write(b'{"conflicts": [')
    count = 0
    for count, c in enumerate(conflicts, start=1):
        out.write(b",\n" if count > 1 else b"\n")
        out.write(orjson.dumps(conflict_to_json(c)))
    out.write(b"\n]}\n" if count else b"]}\n")
    out.flush()
    return count


def _write_lines(conflicts: Iterator[Any]) -> int:
    """One line of text per conflict, written as found."""
    count = 0
    for c in conflicts:
        count += 1
        view = conflict_to_json(c)["overlap"]
        alt = view["altitude"]
        print(
            f"{c.kind.value:<10} {c.a} × {c.b}: distance {view['distance_m']:g} m, "
            f"altitude {alt['lower']}–{alt['upper']} m {alt['reference']}, "
            f"time {view['time']['start']} – {view['time']['end'] or 'open'}"
        )
    return count


def _serve_app(service: Any, host: str, port: int, tls: tuple[str, str] | None = None) -> None:
    import uvicorn

    from deconflict.api.app import create_app

    cert, key = tls if tls is not None else (None, None)
    uvicorn.run(
        create_app(service),
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=cert,
        ssl_keyfile=key,
    )


def _tls(args: argparse.Namespace) -> tuple[str, str] | None:
    """The certificate and key to serve HTTPS with, both readable, or None for plain HTTP."""
    if args.tls_cert is None and args.tls_key is None:
        return None
    for value, field in ((args.tls_cert, "--tls-cert"), (args.tls_key, "--tls-key")):
        if value is None:
            raise errors.MissingField("give both --tls-cert and --tls-key", field=field)
        if not Path(value).is_file():
            raise errors.InvalidValue(f"no readable file {value}", field=field)
    return args.tls_cert, args.tls_key


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        dss_public_keys=args.dss_public_key,
        dss_jwks=args.dss_jwks,
        dss_audiences=args.dss_audience,
    )
    tls = _tls(args)
    _free(settings.host, settings.port)
    service = _service(settings)
    scheme = "https" if tls else "http"
    where = f"{scheme}://{settings.host}:{settings.port}"
    print(f"deconflict serving {_shown(settings.db)} at {where}", flush=True)
    _serve_app(service, settings.host, settings.port, tls)
    return 0


def _shown(url: str) -> str:
    """A store URL fit to print: any password replaced."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _print_token(answer: dict[str, Any], token: str) -> None:
    """The token on stdout, alone, for scripts; when it expires on stderr."""
    print(token)
    if "token_expires_at" in answer:
        print(f"the token expires at {answer['token_expires_at']}", file=sys.stderr)


def _party_add(args: argparse.Namespace) -> int:
    service = _service(_settings(args))
    answer, token = service.accounts.add_party(None, args.id, args.name, args.role, args.contact)
    _print_token(answer, token)
    return 0


def _party_token(args: argparse.Namespace) -> int:
    _print_token(*_service(_settings(args)).accounts.rotate_token(None, args.id))
    return 0


def _party_revoke(args: argparse.Namespace) -> int:
    _service(_settings(args)).accounts.revoke_token(None, args.id)
    print(f"revoked the token of {args.id}; 'deconflict party token {args.id}' issues a new one")
    return 0


def _party_list(args: argparse.Namespace) -> int:
    for party in _service(_settings(args)).accounts.list_parties(None):
        print(f"{party['id']}\t{party['role']}\t{party['name']}")
    return 0


def _channel_add(args: argparse.Namespace) -> int:
    members = [m for m in (args.members or "").split(",") if m]
    channel = _service(_settings(args)).accounts.add_channel(
        None, args.id, args.name or args.id, members
    )
    print(json.dumps(channel))
    return 0


def _channel_join(args: argparse.Namespace) -> int:
    channel = _service(_settings(args)).accounts.change_membership(None, args.id, args.party, True)
    print(json.dumps(channel))
    return 0


def _free(host: str, port: int) -> None:
    """Refuse a port another process holds, before anything is made or printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise errors.InvalidValue(f"cannot resolve {host!r}: {exc}", field="--host") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as exc:
            raise errors.InvalidValue(
                f"{host}:{port} is in use ({exc.strerror}); choose another with --port",
                field="--port",
            ) from None


def _demo(args: argparse.Namespace) -> int:
    from deconflict.demo import TestAuthority, incident_command, load_scenario, seed

    _free(args.host, args.port)
    folder = Path(args.db).parent if args.db else Path(tempfile.mkdtemp(prefix="deconflict-demo-"))
    db = args.db or str(folder / "demo.db")
    if Path(db).exists():
        raise errors.InvalidValue(f"{db} exists; the demo starts from a fresh store", field="db")
    scenario = load_scenario()
    authority = TestAuthority(Path(db).parent)
    settings = load_settings(
        None,
        db=db,
        host=args.host,
        port=args.port,
        dss_public_keys=[str(authority.public_pem)],
        dss_audiences=["localhost", args.host],
    )
    terrain = scenario.get("settings", {})
    datum = replace(settings.policy.datum, **{k: float(v) for k, v in terrain.items()})
    settings = replace(settings, policy=replace(settings.policy, datum=datum))
    service = _service(settings)
    parties, ids = seed(service, scenario)
    base = f"http://{settings.host}:{settings.port}"
    print(f"deconflict demo: {len(ids)} notices from {len(parties)} parties in {db}")
    print(f"  API       {base}/v1")
    print(f"  API docs  {base}/docs")
    print(f"  Ledger    {base}/ledger/checkpoint  (key {service.ledger.vkey})")
    print("  Tokens (send as 'Authorization: Bearer <token>'):")
    for p in parties:
        print(f"    {p.id:<15} {p.role:<8} {p.token}")
    uss_token = authority.token("drone-uss", "localhost", service.clock.now())
    env = Path(db).parent / "tokens.env"
    env.write_text(
        "".join(f"export {p.id.upper().replace('-', '_')}={p.token}\n" for p in parties)
        + f"export DSS_TOKEN={uss_token}\n"
        + f"export DECONFLICT={base}\n",
        encoding="utf-8",
    )
    env.chmod(0o600)
    print(f"  The same tokens as shell variables: source {env}")
    print(f"  ASTM F3548 USS API at {base}/dss/v1: the USS 'drone-uss' has a one-hour token,")
    print(f"    DSS_TOKEN in {env.name}, signed by the test authority {authority.public_pem}")
    print("  A near miss by the hospital in Homs was just reported; review it with")
    print(f"    {incident_command(scenario, db, service.clock.now())}")
    print("Press Ctrl+C to stop.", flush=True)
    _serve_app(service, settings.host, settings.port)
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from deconflict.api.app import create_app
    from deconflict.openapi import openapi_document

    with tempfile.TemporaryDirectory() as folder:
        service = _service(Settings(db=str(Path(folder) / "schema.db")))
        print(openapi_document(create_app(service)))
    return 0


def _keys(values: list[str] | None, field: str) -> list[Any]:
    """Verifier keys given as strings or as files holding one per line."""
    from deconflict.ledger.note import Verifier

    keys = []
    for value in values or []:
        path = Path(value)
        lines = path.read_text(encoding="utf-8").split() if path.is_file() else [value]
        for line in lines:
            try:
                keys.append(Verifier.parse(line))
            except errors.DeconflictError as exc:
                raise errors.InvalidValue(exc.message, field=field) from None
    return keys


def _existing_store(url: str) -> Any:
    from deconflict.store import open_store

    try:
        return open_store(url, create=False)
    except errors.NotFound as exc:
        raise errors.NotFound(exc.message, field="--db") from None


def _verify(args: argparse.Namespace) -> int:
    from deconflict.ledger import verify

    keys = _keys(args.key, "--key")
    cosigners = _keys(args.cosigner, "--cosigner")
    if not (args.files or args.db or args.tiles):
        raise errors.MissingField("give FILEs, --db or --tiles to verify", field="FILE")
    if (args.files or args.tiles) and not keys:
        raise errors.MissingField("the log's verifier key is required", field="--key")
    report = verify.Report()
    for name in args.files:
        report.merge(verify.check_file(Path(name), keys, cosigners))
    if args.tiles:
        report.merge(verify.audit_tiles(Path(args.tiles), keys))
    if args.db:
        store = _existing_store(args.db)
        try:
            report.merge(verify.audit_store(store, keys or None))
        finally:
            store.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.checked:
            print(f"ok    {line}")
        for line in report.problems:
            print(f"FAIL  {line}")
        print("verified" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else errors.VerificationFailed.exit_code


def _near(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        raise errors.InvalidValue("--near is LON,LAT, e.g. 36.35,34.5", field="--near") from None
    return lon, lat


def _incident(args: argparse.Namespace) -> int:
    from deconflict.incident import build_report, incident_question

    lon, lat = _near(args.near)
    question = incident_question(args.at, lon, lat, args.radius, args.window)
    store = _existing_store(args.db)
    try:
        report = build_report(store, question, _settings(args).policy.datum)
    finally:
        store.close()
    if args.html:
        from deconflict.incident_html import render

        Path(args.html).write_text(render(report), encoding="utf-8")
        print(f"wrote {args.html}: {len(report['lines'])} lines; check it with deconflict verify")
    elif args.json:
        print(json.dumps(report, indent=1))
    else:
        for line in report["lines"]:
            where = "not ledgered" if line["ledger"] is None else f"#{line['ledger']['index']}"
            print(f"{line['at']}  {line['kind']:<10} {where:>12}  {line['text']}")
    return 0


def _ledger_dump(args: argparse.Namespace) -> int:
    from deconflict.ledger.verify import dump_tiles

    store = _existing_store(args.db)
    try:
        size = dump_tiles(store, Path(args.out))
    finally:
        store.close()
    print(f"wrote the checkpoint of size {size}, its tiles and entry bundles to {args.out}")
    return 0


def _ledger_key(args: argparse.Namespace) -> int:
    from deconflict.ledger.note import Signer

    store = _existing_store(args.db)
    try:
        with store.read() as tx:
            keys = tx.ledger.signing_keys()
    finally:
        store.close()
    if not keys:
        raise errors.NotFound("the store has no ledger key yet", field="--db")
    for private_key, _, _ in keys:
        print(Signer.parse(private_key).vkey)
    return 0


def _ledger_rotate(args: argparse.Namespace) -> int:
    from deconflict.ledger.log import Ledger

    store = _existing_store(args.db)
    try:
        ledger = Ledger(store, SystemClock())
        old = ledger.vkey
        new = ledger.rotate_key()
    finally:
        store.close()
    print(f"retired {old}")
    print(f"signing {new}")
    print("restart the server to sign with the new key; keep the old one to verify old checkpoints")
    return 0


#: Files with more notices than this show a progress bar on stderr.
_BAR_FROM = 200


#: ``check`` shows progress on stderr for files with more features than this.
_CHECK_BAR_FROM = 5_000


def _bar(total: int, what: str, unit: str, disable: bool | None = None) -> Any:
    """A progress bar on stderr for a long ``check``; none for a small file."""
    from tqdm import tqdm

    quiet = total <= _CHECK_BAR_FROM if disable is None else disable
    return tqdm(total=total or None, desc=what, unit=unit, file=sys.stderr, disable=quiet)


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="notice", file=sys.stderr, disable=total <= _BAR_FROM)


def _acting(args: argparse.Namespace) -> tuple[Any, Any]:
    """The service on an existing store, and the party the local operator acts as."""
    from deconflict.exchange import party_viewer
    from deconflict.service import Service

    settings = _settings(args)
    service = Service(_existing_store(settings.db), SystemClock(), settings)
    try:
        return service, party_viewer(service, args.party, "--party")
    except errors.DeconflictError:
        service.store.close()
        raise


def _import(args: argparse.Namespace) -> int:
    from deconflict.ed269 import plan_ed269
    from deconflict.exchange import import_notices, plan_geojson

    doc = _read_json(args.file)
    service, viewer = _acting(args)
    try:
        limits = service.settings.limits
        if args.format == "ed269":
            if not 0 < args.horizon_days <= 366:
                raise errors.InvalidValue("the horizon is 1 to 366 days", field="--horizon-days")
            planned, skipped = plan_ed269(
                doc,
                service.clock.now(),
                horizon_days=args.horizon_days,
                limits=limits,
                datum=service.settings.policy.datum,
            )
        else:
            planned = plan_geojson(doc, viewer.party, limits, keep_audience=not args.no_audience)
            skipped = []
        with _progress(len(planned)) as bar:
            result = import_notices(service, viewer, planned, bar.update)
    finally:
        service.store.close()
    result.skipped = skipped
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for n in result.created:
        print(f"{n['source']} → {n['id']}: {n['conflicts']} conflict(s)")
    for n in result.replayed:
        print(f"{n['source']} → {n['id']}: already imported")
    for s in result.skipped:
        print(f"{s['source']} skipped: {s['reason']}")
    print(
        f"{len(result.created)} notice(s) created as {viewer.party}, "
        f"{len(result.replayed)} already imported, {len(result.skipped)} skipped; "
        f"{result.conflicts} conflict(s) found"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from deconflict.exchange import export_geojson, visible_notices

    service, viewer = _acting(args)
    try:
        views = visible_notices(service, viewer, mine=args.mine)
    finally:
        service.store.close()
    with _progress(len(views)) as bar:
        if args.format == "kml":
            from deconflict.kml import kml_document

            data = kml_document(views, f"deconflict: what {viewer.party} sees", bar.update)
        else:
            doc = export_geojson(views, bar.update)
            data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise errors.BadRequest(f"cannot write {args.out}: {exc.strerror}", field="--out") from None
    print(f"wrote {len(views)} notice(s) to {args.out}", file=sys.stderr)
    return 0


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0")
    return value


def _db_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--db",
        required=required,
        metavar="URL",
        help="SQLite path, sqlite:///path, or postgresql://user@host/database",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file ([deconflict] table)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="deconflict",
        description="Multi-party deconfliction: notices, exact 4D conflicts, need-to-know.",
    )
    root.add_argument("--version", action="version", version=f"deconflict {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="find conflicts in an interchange file, offline")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--json", action="store_true", help="print conflicts as JSON")
    check.add_argument(
        "--buffer-lateral",
        type=_non_negative,
        metavar="M",
        help="lateral buffer in metres for every conflict kind",
    )
    check.add_argument(
        "--buffer-vertical",
        type=_non_negative,
        metavar="M",
        help="vertical buffer in metres for every conflict kind",
    )
    check.add_argument(
        "--buffer-time",
        type=_non_negative,
        metavar="S",
        help="time buffer in seconds for every conflict kind",
    )
    check.set_defaults(run=_check)

    imports = commands.add_parser(
        "import",
        help="file the notices of a GeoJSON or ED-269 file as a party, through the service",
    )
    imports.add_argument("file", metavar="FILE")
    imports.add_argument("--party", required=True, metavar="ID", help="the party to file as")
    imports.add_argument(
        "--format",
        choices=["geojson", "ed269"],
        default="geojson",
        help="interchange GeoJSON (default) or ED-269 UAS geographical zones (JSON)",
    )
    imports.add_argument(
        "--horizon-days",
        type=float,
        default=30.0,
        metavar="N",
        help="ED-269: expand weekly schedules over the next N days (default 30)",
    )
    imports.add_argument(
        "--no-audience",
        action="store_true",
        help="GeoJSON: file the notices without the audience the file gives them",
    )
    imports.add_argument("--json", action="store_true", help="print the result as JSON")
    _db_args(imports)
    imports.set_defaults(run=_import)

    export = commands.add_parser(
        "export", help="write what a party may see as interchange GeoJSON or KML"
    )
    export.add_argument("--party", required=True, metavar="ID", help="the party whose view")
    export.add_argument(
        "--format",
        choices=["geojson", "kml"],
        default="geojson",
        help="interchange GeoJSON (default; import and check read it) or KML 2.2",
    )
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument(
        "--mine", action="store_true", help="only the party's own notices (to import elsewhere)"
    )
    _db_args(export)
    export.set_defaults(run=_export)

    serve = commands.add_parser("serve", help="run the HTTP API")
    _db_args(serve)
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--dss-public-key",
        action="append",
        metavar="PEM",
        help="accept F3548 facade tokens signed with this key (RS256 or ES256); repeatable",
    )
    serve.add_argument("--dss-jwks", metavar="FILE", help="accept facade tokens from this JWKS")
    serve.add_argument(
        "--dss-audience",
        action="append",
        metavar="AUD",
        help="an aud the facade accepts, such as the service's host name; repeatable",
    )
    serve.set_defaults(run=_serve)

    party = commands.add_parser("party", help="manage parties").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = party.add_parser("add", help="create a party and print its token")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["member", "admin", "auditor"], default="member")
    add.add_argument("--contact")
    _db_args(add)
    add.set_defaults(run=_party_add)
    rotate_token = party.add_parser(
        "token", help="issue a new token for a party and print it; the old one stops working"
    )
    rotate_token.add_argument("id")
    _db_args(rotate_token)
    rotate_token.set_defaults(run=_party_token)
    revoke = party.add_parser("revoke", help="revoke a party's token")
    revoke.add_argument("id")
    _db_args(revoke)
    revoke.set_defaults(run=_party_revoke)
    listing = party.add_parser("list", help="list parties")
    _db_args(listing)
    listing.set_defaults(run=_party_list)

    channel = commands.add_parser("channel", help="manage channels").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    cadd = channel.add_parser("add", help="create a channel")
    cadd.add_argument("id")
    cadd.add_argument("--name")
    cadd.add_argument("--members", metavar="A,B", help="comma-separated party ids")
    _db_args(cadd)
    cadd.set_defaults(run=_channel_add)
    join = channel.add_parser("join", help="add a party to a channel")
    join.add_argument("id")
    join.add_argument("--party", required=True)
    _db_args(join)
    join.set_defaults(run=_channel_join)

    demo = commands.add_parser("demo", help="serve a seeded scenario on a fresh store")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--db", help="where to create the demo store (default: a temp folder)")
    demo.set_defaults(run=_demo)

    verify = commands.add_parser(
        "verify", help="check receipts, checkpoints, proofs, a tile dump or a whole store, offline"
    )
    verify.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="a receipt or a write's answer (JSON), a consistency proof (JSON), or a checkpoint",
    )
    verify.add_argument(
        "--key",
        action="append",
        metavar="VKEY",
        help="the log's verifier key, or a file holding it (repeatable)",
    )
    verify.add_argument(
        "--cosigner",
        action="append",
        metavar="VKEY",
        help="a cosigner's verifier key whose cosignatures on a checkpoint must verify",
    )
    verify.add_argument("--db", metavar="URL", help="audit this whole store")
    verify.add_argument("--tiles", metavar="DIR", help="audit a tile dump (C2SP tlog-tiles)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=_verify)

    incident = commands.add_parser(
        "incident", help="what was notified near a place and time, who was told, with proofs"
    )
    incident.add_argument("--db", required=True, metavar="URL", help="the store to read")
    incident.add_argument("--at", required=True, metavar="TIME", help="the instant, RFC 3339")
    incident.add_argument("--near", required=True, metavar="LON,LAT", help="the place")
    incident.add_argument("--radius", type=float, default=10.0, metavar="KM", help="default 10")
    incident.add_argument(
        "--window", type=float, default=60.0, metavar="MINUTES", help="either side; default 60"
    )
    shape = incident.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the whole report as JSON")
    shape.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    incident.set_defaults(run=_incident)

    ledger = commands.add_parser("ledger", help="export the ledger").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    dump = ledger.add_parser("dump", help="write the newest checkpoint, tiles and entry bundles")
    dump.add_argument("--out", required=True, metavar="DIR")
    _db_args(dump)
    dump.set_defaults(run=_ledger_dump)
    key = ledger.add_parser("key", help="print the ledger's verifier keys, oldest first")
    _db_args(key)
    key.set_defaults(run=_ledger_key)
    rotate = ledger.add_parser("rotate-key", help="sign new checkpoints with a new key")
    _db_args(rotate)
    rotate.set_defaults(run=_ledger_rotate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except errors.DeconflictError as exc:
        stream = sys.stdout if getattr(args, "json", False) else sys.stderr
        print(_error_json(exc), file=stream)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `deconflict check … | head`: the reader left, nothing to say
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (no flush error at exit)
        return 0
    return code


def run() -> None:
    sys.exit(main())
