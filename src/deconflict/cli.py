"""The ``deconflict`` command line: each command is a few lines calling the library."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import errors
from .conflicts import SeparationPolicy, detect_all
from .interchange import conflict_to_json, notices_from_geojson

__all__ = ["main"]


def _error_json(exc: errors.DeconflictError) -> str:
    body = exc.to_dict()
    body["id"] = uuid.uuid4().hex[:12]
    return json.dumps({"error": body})


def _check(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.BadRequest(f"cannot read {args.file}: {exc.strerror}", field="FILE") from None
    except UnicodeDecodeError:
        raise errors.BadRequest(f"{args.file} is not UTF-8 text", field="FILE") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.BadRequest(f"not JSON: {exc.msg} at line {exc.lineno}", field="FILE") from None
    notices = notices_from_geojson(doc)
    policy = SeparationPolicy().overriding(
        args.buffer_lateral, args.buffer_vertical, args.buffer_time
    )
    conflicts = detect_all(notices, policy)
    if args.json:
        print(json.dumps({"conflicts": [conflict_to_json(c) for c in conflicts]}, indent=2))
    else:
        for c in conflicts:
            view = conflict_to_json(c)["overlap"]
            alt = view["altitude"]
            print(
                f"{c.kind.value:<10} {c.a} × {c.b}: distance {view['distance_m']:g} m, "
                f"altitude {alt['lower']}–{alt['upper']} m {alt['reference']}, "
                f"time {view['time']['start']} – {view['time']['end'] or 'open'}"
            )
        print(f"{len(conflicts)} conflict(s) among {len(notices)} notice(s)")
    return 1 if conflicts else 0


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deconflict", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="find conflicts in an interchange GeoJSON file, offline"
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except errors.DeconflictError as exc:
        stream = sys.stdout if getattr(args, "json", False) else sys.stderr
        print(_error_json(exc), file=stream)
        return exc.exit_code
    return code


def run() -> Any:  # pragma: no cover - console entry
    sys.exit(main())
