"""``finetui models``: the models usable offline: the bundled ones and the local Hugging Face cache."""

from __future__ import annotations

import argparse
import json
import sys

from engine.models import ModelError, ModelInfo, list_models
from tui.format import human_bytes

HELP = "list the bundled model and the models in the local Hugging Face cache"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help=HELP,
        description=(
            "List the models finetui can use without downloading: the bundled finetui-tiny (the default) "
            "and every model in the local Hugging Face cache ($HF_HUB_CACHE), with size and architecture. "
            "Any Hugging Face id also works as a model; it is downloaded on first use."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        models = list_models()
    except ModelError as exc:
        print(f"finetui models: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"finetui models: error: cannot read the Hugging Face cache: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([m.to_json() for m in models], indent=2))
    else:
        print(format_table(models))
    return 0


def format_table(models: list[ModelInfo]) -> str:
    """Models as aligned columns; the default model is starred."""
    if not models:
        return "no models found (the bundled model is missing and the Hugging Face cache is empty)"
    header = ("NAME", "SOURCE", "ARCHITECTURE", "SIZE", "PATH")
    rows = [
        (m.name + (" *" if m.default else ""), m.source, m.architecture, human_bytes(m.size_bytes), str(m.path))
        for m in models
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for r in (header, *rows):
        cells = [r[i].ljust(widths[i]) if i != 3 else r[i].rjust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join([*cells, r[-1]]))
    if any(m.default for m in models):
        lines.append("\n* the default model")
    return "\n".join(lines)
