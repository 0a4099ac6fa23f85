"""The export process: ``python -m engine.export RUN --options JSON`` prints JSON lines and exits.

The TUI runs exports here, in a process of its own (it never imports
torch): one ``{"type": "progress", "text": ...}`` line per step, then one
``{"type": "done", "path", "report", "passed"}`` or ``{"type": "error",
"message", "code"}`` line. Library output goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from engine.export.errors import ExportError
from engine.export.exporter import ExportOptions, export_run


def options_from_json(raw: dict[str, Any]) -> ExportOptions:
    """``ExportOptions`` from the JSON the TUI sends (``out`` a path string or null)."""
    known = {k: v for k, v in raw.items() if k in ExportOptions.__dataclass_fields__}
    if known.get("out"):
        known["out"] = Path(known["out"])
    return ExportOptions(**known)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run id, unique id prefix, or name")
    parser.add_argument("--options", default="{}", help="ExportOptions as JSON")
    args = parser.parse_args(argv)
    out = sys.stdout

    def say(kind: str, **fields: Any) -> None:
        print(json.dumps({"type": kind, **fields}), file=out, flush=True)

    from engine.infer.server import quiet_libraries
    from engine.runs import RunNotFound, RunStore
    from engine.runs.store import BrokenRun

    quiet_libraries(warnings=False)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            run = RunStore().get(args.run)
            result = export_run(run, options_from_json(json.loads(args.options)), lambda text: say("progress", text=text))
    except (ExportError, RunNotFound, BrokenRun) as exc:
        say("error", message=str(exc), code=getattr(exc, "code", "not_found"))
        return 2
    except Exception as exc:  # an engine failure still ends with a line the TUI can show
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        say("error", message=f"export failed: {type(exc).__name__}: {first}", code="internal")
        return 1
    say("done", path=str(result.path), report=result.report, passed=result.passed, pushed=result.pushed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
