"""An error no handler in the TUI caught ends the app in one line, never a traceback; the traceback goes to crash.log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui import DEBUG_ENV
from tui.app import CRASH_LOG

#: The real app, headless, with a key binding whose action raises: a bug, as a user would meet one.
BROKEN_APP = """
from tui.app import FinetuiApp

def broken(self):
    raise OSError(2, "the help [file] went missing")

FinetuiApp.action_help = broken

async def press_f1(pilot):
    await pilot.pause()
    await pilot.press("f1")
    await pilot.pause()

app = FinetuiApp()
app.run(headless=True, size=(80, 24), auto_pilot=press_f1)
raise SystemExit(app.return_code)
"""


def _run(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``BROKEN_APP``; the error console is wide enough that no line is folded, whatever the length of ``home``."""
    environ = {"PATH": "/usr/bin:/bin", "FINETUI_HOME": str(home), "HOME": str(home), "COLUMNS": "1000", **env}
    return subprocess.run([sys.executable, "-c", BROKEN_APP], capture_output=True, text=True, env=environ, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


@pytest.mark.slow
def test_an_unexpected_error_ends_the_tui_in_one_line_with_its_traceback_in_crash_log(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"finetui stopped on an unexpected error: FileNotFoundError: [Errno 2] the help [file] went missing "
                    f"(a bug in finetui; the traceback is in {tmp_path / CRASH_LOG})")
    assert "Traceback" not in done.stderr + done.stdout
    log = (tmp_path / CRASH_LOG).read_text()
    assert "Traceback (most recent call last):" in log and "in broken\nFileNotFoundError: [Errno 2] the help [file] went missing" in log


@pytest.mark.slow
def test_the_debug_switch_shows_textuals_own_report(tmp_path: Path) -> None:
    done = _run(tmp_path, **{DEBUG_ENV: "1"})
    assert done.returncode == 1 and "the help [file] went missing" in done.stderr and "finetui stopped" not in done.stderr
    assert not (tmp_path / CRASH_LOG).exists()
