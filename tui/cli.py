"""The ``finetui`` command: subcommands for scripts, and the TUI when run bare."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tui import DEBUG_ENV


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return _run_tui(None)
    from tui.parser import build_parser, no_command, take_free_values  # argparse and the commands: only for a command line

    parser, names = build_parser()
    if argv[0] not in names and not argv[0].startswith("-"):
        start = Path(argv[0]).expanduser()
        if len(argv) == 1 and start.exists():  # a bare path opens the TUI there
            return _run_tui(start)
        parser.error(no_command(argv[0], names, could_be_path=len(argv) == 1))  # a mistyped command more often than a file to be
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
