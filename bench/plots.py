"""PNG plots of the JSON results."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_all"]


def _engine(results: Path) -> None:
    data = json.loads((results / "engine.json").read_text())
    sizes = sorted(int(n) for n in data["sizes"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for who, style in (("ours", "o-"), ("postgis", "s--")):
        if who not in data["sizes"][str(sizes[0])]:
            continue
        for stat, alpha in (("p50_ms", 1.0), ("p99_ms", 0.45)):
            ys = [data["sizes"][str(n)][who][stat] for n in sizes]
            label = f"{'deconflict' if who == 'ours' else 'PostGIS GiST'} {stat[:3]}"
            ax.plot(sizes, ys, style, alpha=alpha, label=label)
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="target p50 0.5 ms")
    ax.set_xscale("log")
    ax.set_xlabel("active volumes (constant density)")
    ax.set_ylabel("conflict query latency (ms)")
    ax.set_title("Engine conflict query: deconflict (SQLite R*Tree + exact) vs PostGIS")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(results / "engine.png", dpi=120)
    plt.close(fig)


def _http(results: Path) -> None:
    data = json.loads((results / "http.json").read_text())
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    axes[0].bar(["measured", "target"], [data["notices_per_s"], 1000], color=["C0", "grey"])
    axes[0].set_ylabel("notices/s")
    axes[0].set_title(f"Admission, {data['clients']} clients, {data['active_volumes']:,} active")
    axes[1].bar(["p50", "p99", "target p99"], [data["p50_ms"], data["p99_ms"], 50],
                color=["C0", "C1", "grey"])
    axes[1].set_ylabel("ms")
    axes[1].set_title("Admission latency")
    fig.tight_layout()
    fig.savefig(results / "http.png", dpi=120)
    plt.close(fig)


def plot_all(results: Path) -> None:
    for name, draw in (("engine", _engine), ("http", _http)):
        if (results / f"{name}.json").exists():
            draw(results)
            print(f"wrote {results / (name + '.png')}")
