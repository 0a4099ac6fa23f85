"""``finetui inspect``: the validation report and the first examples of a data file."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from engine.config import DEFAULT_MODEL
from engine.data import FORMATS, DataError, DataSpec, Example, Message, Report, scan
from engine.data.display import escape_controls
from engine.data.scanner import DEFAULT_MAX_SEQ_LEN
from engine.data.split import DEFAULT_EVAL_FRACTION
from engine.errors import Hint
from tui.commands.flags import hint_text
from tui.format import human_bytes

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
    p.add_argument("file", type=Path, help="the data file: text, JSON, JSON Lines, CSV, TSV, Parquet or Arrow, any extension, or compressed (.gz, .bz2, .xz)")
    p.add_argument("--separator", "-s", metavar="S", help="string between examples in a .txt (e.g. --SEPARATOR--); without it, text is split at paragraphs")
    p.add_argument("--format", "-f", metavar="F", help=f"force the file format or the record layout: {', '.join(FORMATS)} (default: detect)")
    p.add_argument("--map", metavar="FIELD=COLUMN,...", dest="mapping", help="the columns holding the fields, e.g. prompt=question,completion=answer")
    p.add_argument(
        "--show-tokens",
        action="store_true",
        help="print the shown examples as training sees them: the model's chat template applied, trained tokens marked ⟦like this⟧",
    )
    p.add_argument("--model", "-m", metavar="M", default=DEFAULT_MODEL, help="the model whose tokenizer --show-tokens uses (default: %(default)s)")
    p.add_argument("--show", "-n", metavar="N", type=int, default=3, help="print the first N parsed examples (default 3)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead")
    p.add_argument(
        "--max-seq-len", metavar="T", type=int, default=DEFAULT_MAX_SEQ_LEN, help=f"warn about examples longer than T tokens (default {DEFAULT_MAX_SEQ_LEN})"
    )
    p.add_argument("--eval-fraction", metavar="F", type=float, default=DEFAULT_EVAL_FRACTION, help="share of examples held out for eval (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/eval split (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.show < 0 or args.max_seq_len < 1 or not 0 < args.eval_fraction < 1:
        print("finetui inspect: error: --show must be >= 0, --max-seq-len >= 1 and --eval-fraction between 0 and 1", file=sys.stderr)
        return 2
    progress = _Progress() if sys.stderr.isatty() and not args.json else None
    pending: list[Example] = []

    def print_examples(header: str) -> None:
        """Print the examples held so far under ``header``: held until it is known how many there are."""
        if pending and not args.json:
            if progress:
                progress.clear()
            print(f"{header} of {args.file}\n")
            for example in pending:
                print(format_example(example))
            sys.stdout.flush()
        pending.clear()

    def show(example: Example) -> None:
        pending.append(example)
        if len(pending) == args.show:
            print_examples(_first(args.show))

    try:
        spec = DataSpec(args.file, format=args.format, separator=args.separator, mapping=args.mapping)
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
        print_examples(_first(len(pending)))  # the ones before the error
        if progress:
            progress.clear()
        if args.json:
            print(json.dumps({"file": str(args.file), "errors": [exc.to_json()]}))
        print(f"finetui: error: {data_error(exc)}", file=sys.stderr)
        return 2
    print_examples("the only example" if len(pending) == 1 else f"all {len(pending)} examples")  # fewer than --show
    if progress:
        progress.clear()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    if args.show_tokens:
        return show_tokens(report.preview, args)
    return 0


def data_error(exc: DataError) -> str:
    """A data error in the CLI's terms: the map that fixes it as the ``--map`` flag to copy, quoted for the shell."""
    hint = exc.hint
    if hint is None:
        return str(exc)
    return f"{exc.located()}; {hint_text(Hint(hint.setting, shlex.quote(str(hint.value)), hint.when))}"


def _first(count: int) -> str:
    return "the first example" if count == 1 else f"first {count} examples"


def show_tokens(examples: list[Example], args: argparse.Namespace) -> int:
    """Print each example's tokens as training encodes them for ``args.model``: trained runs inside ⟦ ⟧."""
    from engine.train.preview import load_tokenizer, preview  # here: it loads transformers
    from engine.train.tokenize import TemplateError, chat_template

    try:
        tokenizer = load_tokenizer(args.model)
    except Exception as exc:  # one line, never a traceback: a missing model, a broken tokenizer
        print(f"finetui: error: can't load the tokenizer of {args.model}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    template = "the model's chat template" if getattr(tokenizer, "chat_template", None) else "finetui's plain chat template (the model has none)"
    colour = sys.stdout.isatty()
    for example in examples:
        try:
            shown = preview(example, tokenizer, args.max_seq_len)
        except TemplateError as exc:
            print(f"finetui: error: {args.file}: {exc}", file=sys.stderr)
            return 2
        how = f" · {template}" if example.kind == "messages" and chat_template(tokenizer) else ""
        head = f"── tokens of #{example.index} · {args.model}{how} "
        print("\n" + head + "─" * max(0, 60 - len(head)))
        print(format_spans(shown.spans, colour))
        print(f"   {shown.summary()}")
    return 0


def format_spans(spans: tuple[tuple[str, bool], ...], colour: bool = False) -> str:
    """Token runs as one text: trained runs inside ⟦ ⟧ (and in bold green on a terminal), control characters escaped."""
    out = []
    for text, trained in spans:
        text = escape_controls(text)
        if trained:
            out.append(f"\033[1;32m⟦{text}⟧\033[0m" if colour else f"⟦{text}⟧")
        else:
            out.append(text)
    return "".join(out)


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


def _clip(text: str) -> str:
    """Long text cut to ``SHOW_CHARS``, control characters escaped so the data can't drive the terminal."""
    if len(text) <= SHOW_CHARS:
        return escape_controls(text)
    return f"{escape_controls(text[:SHOW_CHARS])}… ({len(text) - SHOW_CHARS:,} more characters)"


def _turn(message: Message) -> str:
    label = message.role if message.name is None else f"{message.role} {message.name}"
    if message.role == "assistant" and message.weight == 0:
        label += ", weight 0: not trained"
    calls = "".join(f" → {c['function']['name']}({json.dumps(c['function']['arguments'], ensure_ascii=False)})" for c in message.tool_calls)
    return f"[{label}] {_clip(message.content)}{_clip(calls)}"


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
        if example.tools:
            names = ", ".join(str(t.get("function", t).get("name", "?")) for t in example.tools)
            lines.append(f"[tools] {_clip(names)}")
        lines.extend(_turn(m) for m in example.messages)
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
    for note in report.notes:
        out.append(f"note: {note}")
    if report.warnings:
        out.append(f"warnings ({len(report.warnings)})")
        for w in report.warnings:
            text = w.describe()
            if w.code == "separator_suggested" and report.suggested_separator is not None:
                text += "; pass --separator '" + report.suggested_separator.replace("'", "'\\''") + "'"
            out.append(f"  ! {w.code:<20} {w.count:>6,}  {escape_controls(text)}")
    else:
        out.append("warnings: none")
    return "\n".join(out)
