"""``finetui compare RUN RUN...``: scorecards side by side, the settings that differ, the loss curves overlaid."""

from __future__ import annotations

import argparse
import sys

from engine.runs import RunNotFound, RunStore
from engine.runs.compare import ComparedRun, compared, differing, figure_rows
from engine.runs.process import refresh
from tui.commands.runview import error, os_problem, say
from tui.format import shown

#: Widest column of figures per run.
CELL = 22
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


def _cell(value: object) -> str:
    text = shown(str(value))  # before it is cut and padded, so the columns line up
    return text if len(text) <= CELL else text[: CELL - 1] + "…"


def table(runs: list[ComparedRun]) -> str:
    """The figures and the differing settings as rows, one column per run."""
    width = max(14, *(len(key) for key in differing(runs))) if differing(runs) else 14
    lines = [f"{'':<{width}}  " + "  ".join(f"{_cell(r.name):<{CELL}}" for r in runs)]
    lines.append(f"{'run':<{width}}  " + "  ".join(f"{_cell(r.id):<{CELL}}" for r in runs))
    for label, cells in figure_rows(runs):
        lines.append(f"{label:<{width}}  " + "  ".join(f"{_cell(c):<{CELL}}" for c in cells))
    keys = differing(runs)
    lines.append("")
    lines.append("settings that differ:" if keys else "settings: all the same")
    for key in keys:
        lines.append(f"{key:<{width}}  " + "  ".join(f"{_cell(r.settings.get(key, '-')):<{CELL}}" for r in runs))
    for run in runs:
        if run.problem:
            lines.append(f"{run.id}: {run.problem}")
    for run in runs:
        if run.metrics is not None and run.metrics.train.stop_reason:
            lines.append(f"{run.name}: {run.metrics.train.stop_reason}")
    return "\n".join(lines).rstrip()


def chart(runs: list[ComparedRun], width: int = 78, height: int = 18, color: bool = False) -> str:
    """Train and eval loss of each run, overlaid in one text chart; each curve has its own marker, named in the legend under it."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
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
    return (out if color else plt.uncolorize(out)).rstrip() + "\n" + "   ".join(legend)
