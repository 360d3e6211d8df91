"""Writes docs/cli.md from the CLI's own --help text, so the reference never drifts."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deconflict.cli import parser


def _walk(p: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str]]:
    out = [(prefix, p.format_help())]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_walk(sub, f"{prefix} {name}"))
    return out


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it for stable docs
    lines = [
        "# Command-line reference",
        "",
        "Generated from `--help` by `scripts/cli_docs.py`.",
        "",
    ]
    for name, text in _walk(parser(), "deconflict"):
        lines += [f"## `{name}`", "", "```", text.rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if target.read_text(encoding="utf-8") == render() else 1)
    target.write_text(render(), encoding="utf-8")
