"""``finetui export RUN --to hf|adapter|gguf``: take a Ready run's model home, checked against the run.

The export itself is ``engine.export``; this prints its steps, the
round-trip report and where the export went. Refusals (a run that isn't
Ready, an existing folder, a folder ``--force`` must not replace, a missing
quantizer, too little disk, an unreachable Hub) are one line and exit 2; a
failed round-trip check exits 1. ``--out ''`` is refused rather than read as
the working folder: in a script, an unset variable must not aim an export
at wherever the script runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from engine.export.errors import ExportError
from engine.export.exporter import DTYPES, TARGETS, ExportOptions
from engine.export.gguf import GGUF_TYPES
from engine.runs import RunNotFound, RunStore
from engine.runs.store import BrokenRun
from tui.commands.runview import error


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a Ready run as merged weights (hf), a PEFT adapter or GGUF, checked against the run",
        description=(
            "Export run RUN. hf: the base model dequantised to --dtype with the LoRA adapter merged in, saved as "
            "safetensors with the tokenizer, the chat template the run trained with and a generation config that "
            "stops at its end-of-turn tokens (loads with plain transformers). adapter: a clean PEFT folder with a model "
            "card. gguf: the merged model converted by llama.cpp's own converter, with an Ollama Modelfile. "
            "A round-trip check then scores the eval split with the export and compares its greedy answers with "
            "the playground's; it fails (exit 1) beyond the stated tolerances. The output goes to --out, by default "
            "$FINETUI_HOME/exports/RUN-TARGET; an existing folder is left alone unless --force, and --force replaces only an "
            "earlier export (a folder holding finetui's .finetui-export.json stamp) or a link (not what it points to): never "
            "the working folder or one holding it, finetui's home outside its exports folder, a run, a file or any other folder."
        ),
    )
    p.add_argument("run", help="run id, unique id prefix, or name")
    p.add_argument("--to", dest="target", choices=TARGETS, default="hf", help="what to export (default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, default="auto", help="weights of the merged model; auto: the base model's own (default: %(default)s)")
    p.add_argument("--gguf-type", choices=GGUF_TYPES, default="f16",
                   help="GGUF tensor type; f32, f16, bf16 and q8_0 by llama.cpp's converter, the others by its quantizer "
                        "(needs llama-cpp-python, the export extra) (default: %(default)s)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: $FINETUI_HOME/exports/RUN-TARGET)")
    p.add_argument("--force", action="store_true",
                   help="replace DIR if it is an earlier export or a link (only once the new export is whole and checked)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the round-trip check")
    p.add_argument("--push-to-hub", metavar="REPO", help="upload the export to this Hugging Face repo (needs the Hub and a token)")
    p.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from engine.export.exporter import export_run
    from engine.infer.server import quiet_libraries

    if args.out is not None and not args.out.strip():
        return error("export", "--out is empty: give a folder, or drop --out for the default ($FINETUI_HOME/exports/RUN-TARGET)")
    try:
        run = RunStore().get(args.run)
    except (RunNotFound, BrokenRun) as exc:
        return error("export", str(exc))
    out_dir = Path(args.out) if args.out is not None else None
    options = ExportOptions(args.target, args.dtype, args.gguf_type, out_dir, args.force, args.check, args.push_to_hub)
    quiet_libraries(warnings=False)
    out = sys.stdout

    def progress(text: str) -> None:
        print(f"· {text}", file=out, flush=True)

    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = export_run(run, options, progress)
    except ExportError as exc:
        if exc.code == "check":
            print(f"finetui export: error: {exc}", file=sys.stderr)
            return 1
        if exc.code == "exists":
            return error("export", f"{exc}; pass --force to replace it, or --out another folder")
        return error("export", str(exc))
    except OSError as exc:
        return error("export", f"cannot write the export: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    if result.report:
        print(result.report, file=out)
    print(f"exported to {result.path}" + (f" and pushed to {result.pushed}" if result.pushed else ""), file=out)
    return 0
