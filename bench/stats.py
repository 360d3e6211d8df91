"""Latency summaries: percentiles per repeat, then the median over repeats."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

__all__ = ["summary"]


def summary(repeats: list[np.ndarray]) -> dict[str, Any]:
    """p50/p99 (ms) and throughput (queries/s), each the median over repeats."""
    p50 = [float(np.percentile(r, 50)) * 1e3 for r in repeats]
    p99 = [float(np.percentile(r, 99)) * 1e3 for r in repeats]
    rate = [len(r) / float(np.sum(r)) for r in repeats]
    return {
        "p50_ms": round(statistics.median(p50), 4),
        "p99_ms": round(statistics.median(p99), 4),
        "throughput_per_s": round(statistics.median(rate), 1),
        "repeats": len(repeats),
        "samples_per_repeat": len(repeats[0]),
        "p50_ms_each": [round(x, 4) for x in p50],
    }
