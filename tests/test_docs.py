"""Documentation that cannot drift: settings, CLI reference and OpenAPI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import SETTING_NAMES, Settings, load_settings
from deconflict.service import Service
from deconflict.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in SETTING_NAMES if f"`{name}`" not in text]
    assert missing == []


def test_settings_resolve_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[deconflict]\nport = 9001\nprotection_lateral_m = 100\n", encoding="utf-8")
    env = {"DECONFLICT_PORT": "9002", "DECONFLICT_TERRAIN_MAX_M": "3000"}
    settings = load_settings(config, env)
    assert settings.port == 9002
    assert settings.policy.protection.lateral_m == 100
    assert settings.policy.datum.terrain_max_m == 3000
    assert load_settings(config, env, port=9003).port == 9003


def test_the_cli_reference_matches_the_help_text() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_docs.py"), "--check"], check=False
    )
    assert result.returncode == 0, "docs/cli.md is stale: run scripts/cli_docs.py"


def test_the_served_openapi_matches_the_committed_contract(tmp_path: Path) -> None:
    import datetime as dt

    db = str(tmp_path / "o.db")
    service = Service(
        open_store(db), FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), Settings(db=db)
    )
    served = TestClient(create_app(service)).get("/openapi.json").json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served == committed, "the API changed: run `deconflict openapi > docs/openapi.json`"


def test_the_interactive_docs_work_offline(tmp_path: Path) -> None:
    """The docs page loads its scripts and styles from this server, never from a CDN."""
    import datetime as dt
    import re

    db = str(tmp_path / "d.db")
    service = Service(
        open_store(db), FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), Settings(db=db)
    )
    client = TestClient(create_app(service))
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets, "the page should reference its assets"
    assert not re.search(r"https?://", page.text), "the docs page names a remote address"
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
