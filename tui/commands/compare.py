"""``finetui compare RUN RUN...``: scorecards side by side, the settings that differ, the loss curves overlaid."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap

from engine.runs import RunNotFound, RunStore
from engine.runs.compare import ComparedRun, compared, differing, figure_rows
from engine.runs.process import refresh
from tui.commands.runview import error, os_problem, say
from tui.format import shown

#: Widest column of figures per run.
CELL = 22
#: Between two columns.
GAP = "  "
#: Markers that tell the runs apart without colour: (train, eval) per run, in order.
MARKERS = (("•", "O"), ("+", "X"), ("x", "#"), ("-", "@"), ("*", "%"), ("~", "&"))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="runs side by side: scorecards, settings that differ, loss curves")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run ids, unique id prefixes, or names")
    p.add_argument("--no-chart", action="store_true", help="leave out the loss chart")
    p.set_defaults(func=compare)


def compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        return error("compare", "give two or more runs to compare")
    store = RunStore()
    runs: list[ComparedRun] = []
    try:
        for ref in args.runs:
            run = store.get(ref)
            runs.append(compared(run, refresh(run).state))
    except (RunNotFound, OSError) as exc:
        return error("compare", os_problem(exc))
    say(table(runs))
    if not args.no_chart and any(r.train_curve for r in runs):
        say()
        print(chart(runs, color=sys.stdout.isatty()))  # not ``say``: its colours are escapes of its own; the names in it are escaped
    return 0


def _cell(value: object, setting: bool = False) -> str:
    """A value as its cell shows it: ``-`` for none; a long setting that is a path cut from the left (its end tells two apart), other text from the right."""
    if value is None:
        return "-"
    text = shown(str(value))  # before it is cut and padded, so the columns line up
    if len(text) <= CELL:
        return text
    if setting and "/" in text:  # ``…/a/facts.jsonl``: two data paths differ at the end, not in the folders they share
        tail = text[-(CELL - 1) :]
        return "…" + (tail[tail.index("/") :] if "/" in tail else tail)
    return text[: CELL - 1] + "…"


def _groups(widths: list[int], room: int) -> list[list[int]]:
    """The runs' columns (by index) in groups, each as many as fit in ``room`` columns (at least one)."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(widths):
        if groups[-1] and used + len(GAP) + w > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += len(GAP) + w
    return groups


def _wrapped(text: str, width: int) -> list[str]:
    """A note under the table, wrapped at ``width`` (a long path stays whole)."""
    return textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False) or [""]


def table(runs: list[ComparedRun], width: int | None = None) -> str:
    """The figures and the differing settings as rows, one column per run, in groups of runs that fit ``width`` (the terminal's).

    Each column is as wide as its widest cell (``CELL`` at most). Fifty runs
    side by side made lines over a thousand columns long; now the runs that
    don't fit go on below, in another group of the same rows, in the order asked.
    """
    width = width or shutil.get_terminal_size().columns
    keys = differing(runs)
    label = max(14, *(len(key) for key in keys)) if keys else 14
    head = [("", [r.name for r in runs]), ("run", [r.id for r in runs]), *figure_rows(runs)]
    settings = [(key, [r.settings.get(key, "-") for r in runs]) for key in keys]
    cells = [(name, [_cell(value) for value in values]) for name, values in head]
    cells += [(name, [_cell(value, setting=True) for value in values]) for name, values in settings]
    widths = [max(len(row[i]) for _, row in cells) for i in range(len(runs))]

    def line(name: str, row: list[str], group: list[int]) -> str:
        return (f"{name:<{label}}" + "".join(f"{GAP}{row[i]:<{widths[i]}}" for i in group)).rstrip()

    lines: list[str] = []
    for group in _groups(widths, width - label):
        if lines:
            lines.append("")
        lines.extend(line(name, row, group) for name, row in cells[: len(head)])
        if keys:
            lines.extend(["", "settings that differ:"])
            lines.extend(line(name, row, group) for name, row in cells[len(head) :])
    if not keys:
        lines.extend(["", "settings: all the same"])
    for run in runs:
        if run.problem:
            lines.extend(_wrapped(f"{run.id}: {run.problem}", width))
    for run in runs:
        if run.metrics is not None and run.metrics.train.stop_reason:
            lines.extend(_wrapped(f"{run.name}: {run.metrics.train.stop_reason}", width))
    return "\n".join(lines).rstrip()


def chart(runs: list[ComparedRun], width: int | None = None, height: int = 18, color: bool = False) -> str:
    """Train and eval loss of each run, overlaid in one text chart; each curve has its own marker, named in the legend under it.

    ``width`` is the terminal's: the chart takes up to 78 columns of it, the legend wraps at it.
    """
    import plotext as plt

    width = width or shutil.get_terminal_size().columns
    plt.clear_figure()
    plt.plotsize(min(78, width), height)
    legend = []
    for i, run in enumerate(runs):
        train, evals = MARKERS[i % len(MARKERS)]
        if run.train_curve:
            plt.plot([s for s, _ in run.train_curve], [v for _, v in run.train_curve], marker=train)
            legend.append(f"{train} {shown(run.name)} train")
        if run.eval_curve:
            plt.plot([s for s, _ in run.eval_curve], [v for _, v in run.eval_curve], marker=evals)
            legend.append(f"{evals} {shown(run.name)} eval")
    plt.xlabel("step")
    plt.ylabel("loss")
    out = plt.build()
    # The legend goes under the chart: plotext's own sits in the top left corner, over the curves' start.
    return (out if color else plt.uncolorize(out)).rstrip() + "\n" + "\n".join(_packed(legend, width))


def _packed(entries: list[str], width: int) -> list[str]:
    """``entries`` three spaces apart, in lines of at most ``width`` columns (an entry is never split)."""
    lines = [""]
    for entry in entries:
        if lines[-1] and len(lines[-1]) + 3 + len(entry) > width:
            lines.append(entry)
        else:
            lines[-1] = f"{lines[-1]}   {entry}" if lines[-1] else entry
    return lines
