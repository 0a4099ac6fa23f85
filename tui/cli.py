"""The ``finetui`` command: subcommands for scripts, and the TUI when run bare."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

#: The command modules under ``tui.commands``, in ``--help``'s order. They are imported only to
#: parse a command line, so a bare ``finetui`` opens the TUI without loading them (or the engine).
COMMANDS = ("inspect", "models", "train", "plan", "runs", "compare", "playground", "export")

DESCRIPTION = """\
Fine-tune an open LLM on your own data, from a terminal.

Run with no arguments (or with a file or folder) to open the TUI; use a
subcommand to script the same steps."""


#: Options whose values may start with "-", like ``--separator '--SEPARATOR--'`` or ``--separator --``:
#: argparse would take such a value for an option of its own, and drops a value of ``--``. They are
#: taken out of the command line before argparse sees it, and put back on the parsed arguments.
FREE_VALUE_OPTIONS = {"--separator": "separator", "-s": "separator"}


def take_free_values(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """``argv`` without the free-value options, and their values by destination.

    Accepts ``--separator VALUE``, ``--separator=VALUE``, ``-s VALUE`` and
    ``-sVALUE``, whatever VALUE is (``--`` included). Everything after a bare
    ``--`` that is not such a value is left alone.
    """
    rest: list[str] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name, eq, value = arg.partition("=")
        if arg in FREE_VALUE_OPTIONS and i + 1 < len(argv):
            values[FREE_VALUE_OPTIONS[arg]] = argv[i + 1]
            i += 2
            continue
        if eq and name.startswith("--") and name in FREE_VALUE_OPTIONS:
            values[FREE_VALUE_OPTIONS[name]] = value
        elif arg.startswith("-s") and not arg.startswith("--") and len(arg) > 2:
            values["separator"] = arg[2:]
        else:
            rest.append(arg)
        i += 1
    return rest, values


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser, and the subcommand names (a bare path opens the TUI instead)."""
    parser = _Parser(
        prog="finetui",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(subparsers)
    return parser, set(subparsers.choices)


#: Set to show the traceback of an unexpected error instead of its one line.
DEBUG_ENV = "FINETUI_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return _run_tui(None)
    parser, names = build_parser()
    if len(argv) == 1 and argv[0] not in names and not argv[0].startswith("-"):
        return _run_tui(Path(argv[0]))
    rest, free = take_free_values(argv)
    args = parser.parse_args(rest)
    for dest, value in free.items():
        if not hasattr(args, dest):
            parser.error(f"unrecognized arguments: --{dest} (this command takes no {dest})")
        setattr(args, dest, value)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``finetui inspect big.txt | head``): stop quietly, no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        # Every error a user can cause is caught where it happens and said in its own terms; what
        # reaches here is a bug, and it too is one line, never a traceback (DEBUG_ENV shows where).
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"finetui: unexpected error: {type(exc).__name__}: {exc} (a bug in finetui; {DEBUG_ENV}=1 shows where)", file=sys.stderr)
        return 1


def _run_tui(start: Path | None) -> int:
    """Open the TUI, importing Textual only now so subcommands start fast."""
    from tui.app import FinetuiApp

    app = FinetuiApp(start_path=start)
    app.run()
    return app.return_code or 0  # Textual sets 1 when the app crashed: a crash must not exit 0


if __name__ == "__main__":
    sys.exit(main())
