"""The TUI must start fast: it never imports torch, transformers or peft."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "peft")

#: Runs in a fresh interpreter: open the app, preview a file, then list the heavy modules loaded.
SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from tui.app import FinetuiApp
from tui.screens.preview import PreviewScreen

async def main():
    app = FinetuiApp(start_path=Path("tests/fixtures/tui/qa.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        for _ in range(500):
            screen = app.screen
            if isinstance(screen, PreviewScreen) and screen.report is not None:
                break
            await pilot.pause(0.01)
        else:
            raise SystemExit("the preview never finished")
        await pilot.press("enter", "escape", "escape")

asyncio.run(main())
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {heavy})))
"""


def test_the_tui_never_imports_the_training_stack(tmp_path: Path) -> None:
    env = {**os.environ, "FINETUI_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("{heavy}", repr(set(HEAVY)))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
