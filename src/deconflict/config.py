"""One ``Settings`` object: defaults, then a TOML file, then environment, then flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deconflict import errors
from deconflict.alerts.destinations import destinations
from deconflict.altitude import DatumMargins
from deconflict.conflicts import SeparationPolicy
from deconflict.geometry import GeometryLimits
from deconflict.grid import DisclosureGrid
from deconflict.model import Buffers

__all__ = ["SETTING_NAMES", "Settings", "load_settings", "with_db"]


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service. Each field is documented in docs/configuration.md."""

    db: str = "deconflict.db"
    host: str = "127.0.0.1"
    port: int = 8000
    limits: GeometryLimits = field(default_factory=GeometryLimits)
    policy: SeparationPolicy = field(default_factory=SeparationPolicy)
    #: Operations may not end further ahead than this (protected notices are exempt).
    max_horizon_days: float = 30.0
    #: Largest footprint of one operation volume; protected places keep ``max_area_km2``.
    max_operation_area_km2: float = 10_000.0
    #: Longest time window of one operation volume.
    max_operation_hours: float = 24.0
    #: The grid to which another party's side of a conflict is rounded outward.
    grid: DisclosureGrid = field(default_factory=DisclosureGrid)
    #: Area × time (km² × h) of others' notices one party may be shown in a rolling day.
    disclosure_budget_km2h: float = 200_000.0
    #: An owner is alerted once one party has been shown more than this many times the
    #: area × time of one of its notices in a day (1: the whole notice, once).
    disclosure_share_alert: float = 1.0
    #: An owner is alerted when one party's filings, checks and refusals touch a notice more often.
    probe_alert_per_day: float = 20.0
    #: Largest accepted request body.
    max_body_bytes: int = 5_000_000
    #: Point identifications per party per minute.
    identify_per_minute: int = 60
    #: Identifications per party of one owner's operations per minute.
    identify_per_owner_per_minute: int = 20
    #: Operations are identified only this many minutes either side of now.
    identify_window_min: float = 30.0
    #: An owner is alerted when one party's identifications find its operations more often.
    identify_alert_per_day: float = 20.0
    #: What-if checks and refusals for missing awareness per party per minute.
    check_per_minute: int = 120
    #: Largest tolerance an identification may ask for.
    max_identify_tolerance_m: float = 10_000.0
    #: The ledger's origin line and key name, used when the key is made on first start;
    #: empty picks ``deconflict.local/<random>``.
    ledger_origin: str = ""
    #: How often the newest checkpoint is published at ``/ledger/checkpoint``.
    checkpoint_interval_s: float = 1.0
    #: Where webhooks may call, ``host:port`` (a host alone: its scheme's default port);
    #: none by default, so the service calls nowhere unasked.
    webhook_hosts: tuple[str, ...] = ()
    #: Days a token works after it is issued (party add, rotation); 0 for no expiry.
    token_lifetime_days: float = 0.0
    #: Subscriptions a party may keep at once.
    max_subscriptions: int = 20
    #: Longest wait between two attempts at a failing webhook (it doubles from 1 s).
    webhook_max_backoff_s: float = 300.0
    #: How long a webhook receiver has to answer.
    webhook_timeout_s: float = 5.0
    #: How often streams and webhooks look for alerts other processes wrote.
    alert_poll_s: float = 1.0
    #: Live alert streams a party may hold open at once on each API process.
    max_streams_per_party: int = 8
    #: Position reports per ``POST /v1/tracks``.
    max_track_batch: int = 50_000
    #: How long position reports are kept.
    track_retention_hours: float = 24.0
    #: How far ahead closest approach and incursions are predicted.
    lookahead_s: float = 120.0
    #: Separation below which two parties' aircraft are alerted (5 NM, 1,000 ft).
    proximity_horizontal_m: float = 9_260.0
    proximity_vertical_m: float = 304.8
    #: How far outside its party's operation volumes an aircraft may be and still conform.
    conformance_lateral_m: float = 200.0
    conformance_vertical_m: float = 100.0
    #: A track not reported for this long is left out of closest-approach checks.
    track_stale_s: float = 30.0
    #: PEM public keys (paths) that sign the F3548 facade's access tokens (RS256, ES256).
    dss_public_keys: tuple[str, ...] = ()
    #: A JWKS file of further facade token keys; empty for none.
    dss_jwks: str = ""
    #: Audiences (``aud``) the facade accepts; at least one is needed once keys are given.
    dss_audiences: tuple[str, ...] = ()
    #: Largest area of a facade query, reference or subscription; larger answers 413.
    dss_max_area_km2: float = 250_000.0
    #: Facade reads (queries and gets) per USS per minute; each one is recorded.
    dss_reads_per_minute: int = 600


_ENV = "DECONFLICT_"


def _flat(settings: Settings) -> dict[str, Any]:
    p = settings.policy
    return {
        "db": settings.db,
        "host": settings.host,
        "port": settings.port,
        "max_vertices": settings.limits.max_vertices,
        "max_area_km2": settings.limits.max_area_km2,
        "max_movement_slices": settings.limits.max_movement_slices,
        "max_horizon_days": settings.max_horizon_days,
        "max_operation_area_km2": settings.max_operation_area_km2,
        "max_operation_hours": settings.max_operation_hours,
        "disclosure_h3_resolution": settings.grid.resolution,
        "disclosure_altitude_layer_m": settings.grid.layer_m,
        "disclosure_time_slot_s": settings.grid.slot_s,
        "disclosure_budget_km2h": settings.disclosure_budget_km2h,
        "disclosure_share_alert": settings.disclosure_share_alert,
        "probe_alert_per_day": settings.probe_alert_per_day,
        "max_body_bytes": settings.max_body_bytes,
        "identify_per_minute": settings.identify_per_minute,
        "identify_per_owner_per_minute": settings.identify_per_owner_per_minute,
        "identify_window_min": settings.identify_window_min,
        "identify_alert_per_day": settings.identify_alert_per_day,
        "check_per_minute": settings.check_per_minute,
        "max_identify_tolerance_m": settings.max_identify_tolerance_m,
        "ledger_origin": settings.ledger_origin,
        "checkpoint_interval_s": settings.checkpoint_interval_s,
        "webhook_hosts": ",".join(settings.webhook_hosts),
        "token_lifetime_days": settings.token_lifetime_days,
        "max_subscriptions": settings.max_subscriptions,
        "webhook_max_backoff_s": settings.webhook_max_backoff_s,
        "webhook_timeout_s": settings.webhook_timeout_s,
        "alert_poll_s": settings.alert_poll_s,
        "max_streams_per_party": settings.max_streams_per_party,
        "max_track_batch": settings.max_track_batch,
        "track_retention_hours": settings.track_retention_hours,
        "lookahead_s": settings.lookahead_s,
        "proximity_horizontal_m": settings.proximity_horizontal_m,
        "proximity_vertical_m": settings.proximity_vertical_m,
        "conformance_lateral_m": settings.conformance_lateral_m,
        "conformance_vertical_m": settings.conformance_vertical_m,
        "track_stale_s": settings.track_stale_s,
        "dss_public_keys": ",".join(settings.dss_public_keys),
        "dss_jwks": settings.dss_jwks,
        "dss_audiences": ",".join(settings.dss_audiences),
        "dss_max_area_km2": settings.dss_max_area_km2,
        "dss_reads_per_minute": settings.dss_reads_per_minute,
        "airspace_lateral_m": p.airspace.lateral_m,
        "airspace_vertical_m": p.airspace.vertical_m,
        "airspace_time_s": p.airspace.time_s,
        "protection_lateral_m": p.protection.lateral_m,
        "protection_vertical_m": p.protection.vertical_m,
        "protection_time_s": p.protection.time_s,
        "geoid_margin_m": p.datum.geoid_m,
        "pressure_margin_m": p.datum.pressure_m,
        "terrain_min_m": p.datum.terrain_min_m,
        "terrain_max_m": p.datum.terrain_max_m,
    }


#: Every setting name, as accepted in the file (``[deconflict]`` table) and as
#: ``DECONFLICT_<NAME>`` in the environment.
SETTING_NAMES = tuple(_flat(Settings()))


def _build(values: dict[str, Any]) -> Settings:
    v = values
    return Settings(
        db=str(v["db"]),
        host=str(v["host"]),
        port=int(v["port"]),
        limits=GeometryLimits(
            max_vertices=int(v["max_vertices"]),
            max_area_km2=float(v["max_area_km2"]),
            max_movement_slices=int(v["max_movement_slices"]),
        ),
        policy=SeparationPolicy(
            airspace=Buffers(
                float(v["airspace_lateral_m"]),
                float(v["airspace_vertical_m"]),
                float(v["airspace_time_s"]),
            ),
            protection=Buffers(
                float(v["protection_lateral_m"]),
                float(v["protection_vertical_m"]),
                float(v["protection_time_s"]),
            ),
            datum=DatumMargins(
                float(v["geoid_margin_m"]),
                float(v["pressure_margin_m"]),
                float(v["terrain_min_m"]),
                float(v["terrain_max_m"]),
            ),
        ),
        max_horizon_days=_positive(v["max_horizon_days"], "max_horizon_days"),
        max_operation_area_km2=_positive(v["max_operation_area_km2"], "max_operation_area_km2"),
        max_operation_hours=_positive(v["max_operation_hours"], "max_operation_hours"),
        grid=DisclosureGrid(
            resolution=_resolution(v["disclosure_h3_resolution"]),
            layer_m=_positive(v["disclosure_altitude_layer_m"], "disclosure_altitude_layer_m"),
            slot_s=_positive(v["disclosure_time_slot_s"], "disclosure_time_slot_s"),
        ),
        disclosure_budget_km2h=_positive(v["disclosure_budget_km2h"], "disclosure_budget_km2h"),
        disclosure_share_alert=_positive(v["disclosure_share_alert"], "disclosure_share_alert"),
        probe_alert_per_day=_positive(v["probe_alert_per_day"], "probe_alert_per_day"),
        max_body_bytes=int(v["max_body_bytes"]),
        identify_per_minute=_at_least_one(v["identify_per_minute"], "identify_per_minute"),
        identify_per_owner_per_minute=_at_least_one(
            v["identify_per_owner_per_minute"], "identify_per_owner_per_minute"
        ),
        identify_window_min=_positive(v["identify_window_min"], "identify_window_min"),
        identify_alert_per_day=_positive(v["identify_alert_per_day"], "identify_alert_per_day"),
        check_per_minute=_at_least_one(v["check_per_minute"], "check_per_minute"),
        max_identify_tolerance_m=float(v["max_identify_tolerance_m"]),
        ledger_origin=str(v["ledger_origin"]),
        checkpoint_interval_s=_positive(v["checkpoint_interval_s"], "checkpoint_interval_s"),
        webhook_hosts=destinations(v["webhook_hosts"]),
        token_lifetime_days=_lifetime(v["token_lifetime_days"]),
        max_subscriptions=int(v["max_subscriptions"]),
        webhook_max_backoff_s=_positive(v["webhook_max_backoff_s"], "webhook_max_backoff_s"),
        webhook_timeout_s=_positive(v["webhook_timeout_s"], "webhook_timeout_s"),
        alert_poll_s=_positive(v["alert_poll_s"], "alert_poll_s"),
        max_streams_per_party=_at_least_one(v["max_streams_per_party"], "max_streams_per_party"),
        max_track_batch=int(v["max_track_batch"]),
        track_retention_hours=_positive(v["track_retention_hours"], "track_retention_hours"),
        lookahead_s=_positive(v["lookahead_s"], "lookahead_s"),
        proximity_horizontal_m=_positive(v["proximity_horizontal_m"], "proximity_horizontal_m"),
        proximity_vertical_m=_positive(v["proximity_vertical_m"], "proximity_vertical_m"),
        conformance_lateral_m=_positive(v["conformance_lateral_m"], "conformance_lateral_m"),
        conformance_vertical_m=_positive(v["conformance_vertical_m"], "conformance_vertical_m"),
        track_stale_s=_positive(v["track_stale_s"], "track_stale_s"),
        dss_public_keys=_items(v["dss_public_keys"]),
        dss_jwks=str(v["dss_jwks"]),
        dss_audiences=_items(v["dss_audiences"]),
        dss_max_area_km2=_positive(v["dss_max_area_km2"], "dss_max_area_km2"),
        dss_reads_per_minute=_at_least_one(v["dss_reads_per_minute"], "dss_reads_per_minute"),
    )


def _items(value: Any) -> tuple[str, ...]:
    """A comma-separated string (file, environment) or a list (file, flags)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(h).strip() for h in items if str(h).strip())


def _lifetime(value: Any) -> float:
    """Token lifetime in days: 0 (no expiry) up to a century."""
    number = float(value)
    if not 0 <= number <= 36_500:
        raise ValueError("token_lifetime_days must be 0 (no expiry) to 36500")
    return number


def _resolution(value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 15:
        raise ValueError("disclosure_h3_resolution must be 0 to 15")
    return number


def _at_least_one(value: Any, name: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be 1 or more")
    return number


def _positive(value: Any, name: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"{name} must be positive")
    return number


def load_settings(
    file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Defaults, overridden by the file, then ``DECONFLICT_*`` variables, then flags."""
    values = _flat(Settings())
    environ = dict(os.environ) if environ is None else environ
    path = file or environ.get(f"{_ENV}CONFIG")
    if path:
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("deconflict", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise errors.InvalidValue(f"cannot read settings file: {exc}", field="config") from None
        for key, value in table.items():
            if key not in values:
                raise errors.InvalidValue(f"unknown setting {key!r}", field=f"config.{key}")
            values[key] = value
    for key in values:
        if f"{_ENV}{key.upper()}" in environ:
            values[key] = environ[f"{_ENV}{key.upper()}"]
    for key, value in flags.items():
        if value is not None:
            values[key] = value
    try:
        return _build(values)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidValue(f"bad setting: {exc}", field="config") from None


def with_db(settings: Settings, db: str) -> Settings:
    return replace(settings, db=db)
