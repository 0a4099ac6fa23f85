"""``python -m engine.pretrain``: train the bundled model (or a variant) from the repository's corpus."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from dataclasses import MISSING, fields
from pathlib import Path

from engine.pretrain.args import QUICK, PretrainArgs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine.pretrain",
        description=(
            "Train a byte-level BPE tokenizer and a small Llama from scratch on sample_data/corpus-v2, "
            "evaluate on the held-out end of each book, and save a Hugging Face model folder (weights in bfloat16) "
            "with a model card. "
            "The defaults are the recipe of the bundled finetui-tiny."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a toy model for a few steps on a sliver of the corpus (seconds); writes to a temporary folder unless --out is given",
    )
    for f in fields(PretrainArgs):
        default = f.default if f.default is not MISSING else None
        kind = Path if f.name in ("corpus", "out") else type(default)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=kind, default=None, metavar=f.name.upper(), help=f"{f.metadata.get('help', '')} (default: {default})"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = build_parser().parse_args(argv)
    given = {f.name: getattr(ns, f.name) for f in fields(PretrainArgs) if getattr(ns, f.name) is not None}
    if ns.quick:
        given = {**QUICK, **given}
        given.setdefault("out", Path(tempfile.mkdtemp(prefix="finetui-pretrain-")))
    try:
        args = PretrainArgs(**given)
    except ValueError as exc:
        print(f"python -m engine.pretrain: error: {exc}", file=sys.stderr)
        return 2
    from engine.pretrain.train import pretrain

    command = shlex.join(["python", "-m", "engine.pretrain", *argv])
    pretrain(args, log=lambda line: print(line, flush=True), command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
