"""``finetui inspect``: the validation report and the first examples of a data file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.data import FORMATS, DataError, DataSpec, Example, Report, scan
from engine.data.scan import DEFAULT_MAX_SEQ_LEN
from engine.data.split import DEFAULT_EVAL_FRACTION

HELP = "check a data file: formats, counts, length distribution and warnings"
#: Longest example text printed in full; the rest is summarised.
SHOW_CHARS = 800
BAR_WIDTH = 30


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help=HELP,
        description=(
            "Parse a training file the way `finetui train` will, print its first examples, "
            "then a report: example count, train/eval split, lengths and data-quality warnings. "
            "Exits 2 with a one-line error on bad input; writes nothing."
        ),
    )
    p.add_argument("file", type=Path, help="the data file: .txt, .jsonl, .csv or .tsv")
    p.add_argument("--separator", "-s", metavar="S", help="string between examples in a .txt (e.g. --SEPARATOR--); without it, text is split at paragraphs")
    p.add_argument("--format", "-f", metavar="F", help=f"force the format: {', '.join(FORMATS)} (default: detect)")
    p.add_argument("--show", "-n", metavar="N", type=int, default=3, help="print the first N parsed examples (default 3)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead")
    p.add_argument("--max-seq-len", metavar="T", type=int, default=DEFAULT_MAX_SEQ_LEN, help=f"warn about examples longer than T tokens (default {DEFAULT_MAX_SEQ_LEN})")
    p.add_argument("--eval-fraction", metavar="F", type=float, default=DEFAULT_EVAL_FRACTION, help="share of examples held out for eval (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/eval split (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.show < 0 or args.max_seq_len < 1 or not 0 < args.eval_fraction < 1:
        print("finetui inspect: error: --show must be >= 0, --max-seq-len >= 1 and --eval-fraction between 0 and 1", file=sys.stderr)
        return 2
    progress = _Progress() if sys.stderr.isatty() and not args.json else None
    shown = 0

    def show(example: Example) -> None:
        nonlocal shown
        if not args.json:
            if shown == 0:
                print(f"first {args.show} examples of {args.file}\n")
            print(format_example(example))
            sys.stdout.flush()
        shown += 1

    try:
        spec = DataSpec(args.file, format=args.format, separator=args.separator)
        report = scan(
            spec,
            max_seq_len=args.max_seq_len,
            eval_fraction=args.eval_fraction,
            seed=args.seed,
            preview=args.show,
            on_preview=show,
            on_progress=progress,
        )
    except DataError as exc:
        if progress:
            progress.clear()
        if args.json:
            print(json.dumps({"file": str(args.file), "errors": [exc.to_json()]}))
        print(f"finetui: error: {exc}", file=sys.stderr)
        return 2
    if progress:
        progress.clear()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


class _Progress:
    """A one-line progress meter on stderr, redrawn at most once per percent."""

    def __init__(self) -> None:
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent != self.last:
            self.last = percent
            print(f"\rreading {percent:3d}% of {human_bytes(total)}", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.last >= 0:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _clip(text: str) -> str:
    if len(text) <= SHOW_CHARS:
        return text
    return f"{text[:SHOW_CHARS]}… ({len(text) - SHOW_CHARS:,} more characters)"


def format_example(example: Example) -> str:
    """An example with a header line, its fields labelled, long text clipped."""
    head = f"── #{example.index} · line {example.line} · {example.chars:,} chars "
    lines = [head + "─" * max(0, 60 - len(head))]
    if example.kind == "text":
        lines.append(_clip(example.text))
    elif example.kind == "prompt_completion":
        lines.append(f"[prompt] {_clip(example.prompt)}")
        lines.append(f"[completion] {_clip(example.completion)}")
    else:
        lines.extend(f"[{m.role}] {_clip(m.content)}" for m in example.messages)
    return "\n".join(lines) + "\n"


def format_report(report: Report) -> str:
    """The report as people read it: summary, lengths, histogram, then warnings."""
    c, t = report.chars, report.tokens
    out = [
        f"report for {report.path}",
        f"  format     {report.describe_format()}",
        f"  size       {human_bytes(report.file_bytes)}",
        f"  examples   {report.examples:,}  (train {report.train:,}, eval {report.eval:,})",
        f"  chars      min {c.min:,}  median {c.p50:,}  p90 {c.p90:,}  max {c.max:,}  mean {c.mean:,.1f}  total {c.total:,}",
    ]
    if t is not None:
        unit = "tokens~" if report.tokens_estimated else "tokens"
        out.append(f"  {unit:<10} min {t.min:,}  median {t.p50:,}  p90 {t.p90:,}  max {t.max:,}  mean {t.mean:,.1f}  total {t.total:,}")
        if report.tokens_estimated:
            out.append("             (~ estimated at 4 characters a token; no tokenizer given)")
    out.append("  length histogram (chars)")
    peak = max((n for _, _, n in c.histogram), default=0) or 1
    for low, high, n in c.histogram:
        bar = "█" * round(BAR_WIDTH * n / peak)
        out.append(f"    {low:>7,}–{high:<7,} {bar:<{BAR_WIDTH}} {n:,}")
    if report.warnings:
        out.append(f"warnings ({len(report.warnings)})")
        for w in report.warnings:
            out.append(f"  ! {w.code:<20} {w.count:>6,}  {w.describe()}")
    else:
        out.append("warnings: none")
    return "\n".join(out)
