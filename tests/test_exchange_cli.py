"""``deconflict import`` and ``export`` run as a user runs them, in subprocesses.

The commands use the system clock, so the files here hold protected notices (which
have no time horizon) at fixed dates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from deconflict.kml import KML_NAMESPACE

SAMPLE = Path(__file__).parent / "data" / "ed269_sample.json"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _site(notice_id: str, party: str, lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "notice_id": notice_id,
            "party": party,
            "kind": "protected",
            "category": "medical",
            "radius_m": 500,
            "altitude": {"lower": "SFC", "upper": 150, "reference": "AGL", "units": "m"},
            "time": {"start": "2030-01-01T00:00:00Z", "end": None},
        },
    }


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "x.db"
    for party in ("a", "b"):
        added = _run("party", "add", party, "--name", party.upper(), "--db", str(db), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    return db


def _error(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    return body


def test_import_then_export_through_the_commands(store: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.geojson"
    doc = _collection(_site("h1", "a", 36.0, 34.0), _site("h2", "a", 36.2, 34.2))
    source.write_text(json.dumps(doc), encoding="utf-8")
    imported = _run("import", str(source), "--party", "a", "--db", str(store), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == (
        "2 notice(s) created as a, 0 already imported, 0 skipped; 0 conflict(s) found"
    )
    again = _run("import", str(source), "--party", "a", "--db", str(store), "--json", cwd=tmp_path)
    assert [n["source"] for n in json.loads(again.stdout)["already_imported"]] == ["h1", "h2"]

    out = tmp_path / "out.geojson"
    exported = _run("export", "--party", "a", "--db", str(store), "--out", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert sorted(f["geometry"]["coordinates"] for f in features) == [[36.0, 34.0], [36.2, 34.2]]
    assert {f["properties"]["party"] for f in features} == {"a"}
    assert _run("check", str(out), cwd=tmp_path).returncode == 0

    nothing = _run("export", "--party", "b", "--db", str(store), cwd=tmp_path)
    assert json.loads(nothing.stdout) == {"type": "FeatureCollection", "features": []}


def test_a_write_the_service_refuses_exits_2_naming_the_feature(
    store: Path, tmp_path: Path
) -> None:
    op = _site("op", "b", 36.0, 34.0)
    op["properties"].update(kind="operation", time={"start": "2030-01-01T00:00:00Z"})
    del op["properties"]["category"]
    op["properties"]["time"]["end"] = "2030-01-01T01:00:00Z"
    theirs = tmp_path / "b.geojson"
    theirs.write_text(json.dumps(_collection(op)), encoding="utf-8")
    result = _run("import", str(theirs), "--party", "b", "--db", str(store), cwd=tmp_path)
    # an operation filed years ahead is refused: the service's horizon applies to imports
    assert result.returncode == 2
    error = _error(result)
    assert (error["field"], error["written"]) == ("features[0].properties.time.end", 0)


def test_ed269_import_and_kml_export(store: Path, tmp_path: Path) -> None:
    result = _run(
        "import", str(SAMPLE), "--format", "ed269", "--party", "b", "--db", str(store), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[-1] == "3 notice(s) created as b, 0 already imported, 2 skipped; 0 conflict(s) found"
    )
    assert "ZZ-INFO-04 skipped: restriction NO_RESTRICTION protects nothing" in lines
    kml = _run("export", "--party", "b", "--db", str(store), "--format", "kml", cwd=tmp_path)
    assert kml.returncode == 0, kml.stderr
    root = ET.fromstring(kml.stdout.encode("utf-8"))
    ns = {"k": KML_NAMESPACE}
    assert len(root.findall(".//k:Folder", ns)) == 3
    modes = {m.text for m in root.iter(f"{{{KML_NAMESPACE}}}altitudeMode")}
    assert modes == {"relativeToGround", "absolute"}  # AGL zones, and the AMSL-topped site


@pytest.mark.parametrize(
    ("content", "args", "field"),
    [
        ("{not json", (), "FILE"),
        (json.dumps(_collection(_site("h1", "b", 36.0, 34.0))), (), "features[0].properties.party"),
        (
            json.dumps(
                _collection(
                    _site("h1", "a", 36.0, 34.0)
                    | {
                        "properties": _site("h1", "a", 36.0, 34.0)["properties"]
                        | {"altitude": {"lower": 0, "upper": 100, "reference": "QNH"}}
                    }
                )
            ),
            (),
            "features[0].properties.altitude.reference",
        ),
        (
            json.dumps({"features": [{"identifier": "Z", "restriction": "MAYBE"}]}),
            ("--format", "ed269"),
            "features[0].restriction",
        ),
    ],
)
def test_a_bad_file_exits_2_with_a_json_error_naming_the_field(
    store: Path, tmp_path: Path, content: str, args: tuple[str, ...], field: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = _run("import", str(path), "--party", "a", "--db", str(store), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert _error(result)["field"] == field
    exported = _run("export", "--party", "a", "--db", str(store), cwd=tmp_path)
    assert json.loads(exported.stdout)["features"] == []  # nothing was written


def test_an_unknown_party_or_store_is_named(store: Path, tmp_path: Path) -> None:
    result = _run("export", "--party", "zz", "--db", str(store), cwd=tmp_path)
    assert (result.returncode, _error(result)["field"]) == (5, "--party")
    missing = _run("export", "--party", "a", "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert (missing.returncode, _error(missing)["field"]) == (5, "--db")


def test_a_large_file_shows_a_progress_bar_on_stderr(store: Path, tmp_path: Path) -> None:
    sites = [_site(f"s{i}", "a", 30.0 + i * 0.01, 33.0) for i in range(201)]
    path = tmp_path / "big.geojson"
    path.write_text(json.dumps(_collection(*sites)), encoding="utf-8")
    result = _run("import", str(path), "--party", "a", "--db", str(store), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "201/201" in result.stderr
    assert result.stdout.splitlines()[-1].startswith("201 notice(s) created")
    small = _run("export", "--party", "b", "--db", str(store), cwd=tmp_path)
    assert small.stderr == ""
