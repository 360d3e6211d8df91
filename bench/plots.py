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
    axes[1].bar(
        ["p50", "p99", "target p99"],
        [data["p50_ms"], data["p99_ms"], 50],
        color=["C0", "C1", "grey"],
    )
    axes[1].set_ylabel("ms")
    axes[1].set_title("Admission latency")
    fig.tight_layout()
    fig.savefig(results / "http.png", dpi=120)
    plt.close(fig)


def _ledger(results: Path) -> None:
    data = json.loads((results / "ledger.json").read_text())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    windows = data["batched"]["windows"]
    axes[0].plot([w["to"] for w in windows], [w["entries_per_s"] for w in windows], "o-")
    axes[0].set_ylim(bottom=0)
    axes[0].xaxis.set_major_formatter(lambda x, _: f"{x / 1e3:,.0f}k")
    axes[0].set_xlabel("entries in the log")
    axes[0].set_ylabel("entries/s")
    axes[0].set_title(f"Batched append, {data['batched']['records_per_tx']} records/transaction")
    axes[0].grid(True, alpha=0.3)
    rows = [("1 record/tx + receipt", data["single"])]
    rows += [(name.replace("_", " "), v) for name, v in data["proofs"].items() if "p50_ms" in v]
    rows += [(name.replace("_", " "), v) for name, v in data["verify"].items()]
    ys = range(len(rows))
    axes[1].barh([y + 0.2 for y in ys], [v["p50_ms"] for _, v in rows], 0.4, label="p50")
    axes[1].barh([y - 0.2 for y in ys], [v["p99_ms"] for _, v in rows], 0.4, label="p99")
    axes[1].set_yticks(list(ys), [name for name, _ in rows], fontsize=8)
    axes[1].invert_yaxis()
    axes[1].set_xlabel("ms")
    axes[1].set_title(f"Latency at {data['entries']:,} entries")
    axes[1].legend(fontsize=8)
    axes[1].grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(results / "ledger.png", dpi=120)
    plt.close(fig)


def _check(results: Path) -> None:
    rows = json.loads((results / "check.json").read_text())["rows"]
    before_path = results / "check-before.json"
    before = json.loads(before_path.read_text())["cli_s"] if before_path.exists() else {}
    labels = [f"{r['operations']:,}" for r in rows]
    series = [
        ("before (pairwise)", [before.get(str(r["operations"]), 0.0) for r in rows], "C3"),
        ("deconflict check", [r["ours"]["cli_s"] for r in rows], "C0"),
        ("PostGIS load+index+join", [r["postgis"]["total_s"] for r in rows], "C2"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.27
    for k, (label, values, color) in enumerate(series):
        xs = [i + (k - 1) * width for i in range(len(rows))]
        ax.bar(xs, values, width, label=label, color=color)
        for x, v in zip(xs, values, strict=True):
            if v:
                ax.text(x, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)), labels)
    ax.set_yscale("log")
    ax.set_xlabel("operations in the theater")
    ax.set_ylabel("wall time (s), log scale")
    ax.set_title("Whole-theater check: deconflict vs PostGIS self-join")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(results / "check.png", dpi=120)
    plt.close(fig)


def plot_all(results: Path) -> None:
    drawn = (("engine", _engine), ("http", _http), ("ledger", _ledger), ("check", _check))
    for name, draw in drawn:
        if (results / f"{name}.json").exists():
            draw(results)
            print(f"wrote {results / (name + '.png')}")
