"""docs/benchmarks.md: the machine, the command, and one table per benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bench.common import Row, Section


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x (faster)" if value >= 1 else f"{value:.2f}x (slower)"


def _result(row: Row) -> str:
    if row.met is None:
        return "-"
    return "met" if row.met else "**not met**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rows: Sequence[Row], peer: str) -> list[str]:
    lines = [
        f"| Measure | Ours | {peer} | Ours vs {peer} | Target | Result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = (row.measure, row.ours, row.pymerkle, _ratio(row.ratio), row.target, _result(row))
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def render(
    *,
    sections: Sequence[Section],
    machine: Sequence[tuple[str, str]],
    command: str,
    started: datetime,
    seconds: float,
    peer: str,
    quick: bool,
) -> str:
    minutes, rest = divmod(round(seconds), 60)
    lines = ["# Benchmarks", ""]
    if quick:
        lines += [
            "**A quick smoke run at a small scale (`--quick`): these numbers test the harness "
            "and say little about speed.**",
            "",
        ]
    lines += [
        "Written by `make bench`, which runs every benchmark below in one process tree and "
        "rewrites this file. This run's command:",
        "",
        "```",
        command,
        "```",
        "",
        f"Run on {started:%Y-%m-%d} at {started:%H:%M} UTC; the whole run took {minutes} min "
        f"{rest:02d} s. Every number, ours and {peer}'s, comes from this one run on this "
        "machine.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_cell(value)} |" for name, value in machine]
    lines += [
        "",
        "## Targets",
        "",
        f"| Benchmark | Measure | Ours | {peer} | Ours vs {peer} | Target | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    for section in sections:
        for row in section.rows:
            if row.met is not None:
                cells = (
                    section.title,
                    row.measure,
                    row.ours,
                    row.pymerkle,
                    _ratio(row.ratio),
                    row.target,
                    _result(row),
                )
                lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += [
        "",
        f"In the tables, *Ours vs {peer}* is how many times faster ours is: our rate divided "
        f"by {peer}'s, or {peer}'s time divided by ours. Above 1, ours is faster. A "
        "measure without a target is reported for information.",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", "", *_table(section.rows, peer), ""]
        lines += ["How it was measured:", ""]
        for paragraph in section.method:
            lines += [paragraph, ""]
        if section.checks:
            lines += ["Checked by the harness:", ""]
            lines += [f"- {check}" for check in section.checks]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
