"""A conservative 2D prefilter over volume bounding boxes.

The index returns candidate positions; it may return extra candidates, never
fewer. The exact test in :mod:`deconflict.conflicts` decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from .geometry import TOLERANCE_M, BBox

__all__ = ["BoxIndex"]


class BoxIndex:
    """An STR-tree over bounding boxes that may wrap the antimeridian."""

    def __init__(self, boxes: Sequence[BBox]) -> None:
        owners: list[int] = []
        rects = []
        for position, box in enumerate(boxes):
            for w, s, e, n in box.pieces():
                owners.append(position)
                rects.append(shapely.box(w, s, e, n))
        self._owners = np.asarray(owners, dtype=np.int64)
        self._tree = shapely.STRtree(rects)

    def query(self, box: BBox, pad_m: float = 0.0) -> np.ndarray:
        """Positions of every box within ``pad_m`` (plus the tolerance) of ``box``."""
        padded = box.padded(pad_m + TOLERANCE_M)
        hits = [self._tree.query(shapely.box(w, s, e, n)) for w, s, e, n in padded.pieces()]
        if not hits:
            return np.empty(0, dtype=np.int64)
        return np.unique(self._owners[np.concatenate(hits)])
