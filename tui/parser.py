"""The ``finetui`` command line: its parser, built from the command modules under ``tui.commands``.

Kept apart from ``tui.cli`` so that a bare ``finetui``, which opens the TUI,
imports neither argparse nor any command module before the first paint.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
from collections.abc import Iterable

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


def no_command(word: str, commands: Iterable[str], could_be_path: bool = False) -> str:
    """Why ``word`` was refused, in one line: no such command, and the closest one when one is close.

    Said instead of argparse's "invalid choice", which lists every command
    and leaves the user to spot the typo.
    """
    close = difflib.get_close_matches(word, sorted(commands), n=1)
    what = "command, file or folder" if could_be_path else "command"
    return f"{word!r} is no {what}" + (f"; did you mean {close[0]!r}?" if close else "")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    """The installed finetui's version, as pip knows it (``pyproject.toml``'s), or why there is none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finetui")
    except PackageNotFoundError:
        return "(not installed: run from a source tree)"


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser, and the subcommand names (a bare path opens the TUI instead)."""
    parser = _Parser(
        prog="finetui",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"finetui {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(subparsers)
    return parser, set(subparsers.choices)
