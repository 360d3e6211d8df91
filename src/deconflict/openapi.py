"""The committed OpenAPI document: generated from the code, checked for drift in CI."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["openapi_document"]


def openapi_document(app: Any) -> str:
    """The app's OpenAPI document as stable, sorted JSON text."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
