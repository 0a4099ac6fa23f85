"""Seconds from Enter on an example row of the preview to that example's tokens on screen, for three examples in turn.

    python bench/example_dialog.py               # tests/fixtures/tui/qa.jsonl, opened as soon as its tokens are counted
    python bench/example_dialog.py --settle 8    # after 8 s on the preview, as a user reading it would

Headless (``App.run_test``, 80x24) with a temporary ``FINETUI_HOME``: the
data screen opens the file (F5), and once the preview has counted its
tokens (and ``--settle`` seconds more) each example is opened with Enter,
timed to the dialog's "N tokens, M trained" line, then closed, and the next
row opened. Before issue 38 each example ran ``python -m engine.train.preview``
(a Python start, the transformers import, the tokenizer load): 7.3-11.2 s an
example on 2 busy cores; with the preview screen's one
``engine.token_previews`` process, started with the preview, 0.17-0.34 s
once it is warm.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from time import monotonic

REPO = Path(__file__).resolve().parent.parent


async def measure(path: Path, settle: float, examples: int) -> list[float]:
    from textual.widgets import Static

    from tests.pilot_helpers import until
    from tui.app import FinetuiApp
    from tui.screens.example import ExampleScreen
    from tui.screens.preview import PreviewScreen

    def summary(app: FinetuiApp) -> str:
        return str(app.screen.query_one("#tokens-summary", Static).render())

    def counted(app: FinetuiApp) -> bool:
        return isinstance(app.screen, PreviewScreen) and app.screen.report is not None and "median" in str(app.screen.query_one("#tokens", Static).render())

    seconds = []
    async with FinetuiApp(start_path=path).run_test(size=(80, 24)) as pilot:
        app = pilot.app
        await pilot.press("f5")
        await until(pilot, lambda: counted(app), 120)
        await pilot.pause(settle)
        for n in range(examples):
            if n:
                await pilot.press("escape", "down")
            start = monotonic()
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ExampleScreen) and "trained" in summary(app), 120)
            seconds.append(monotonic() - start)
            print(f"example {n + 1}: {seconds[-1]:.2f} s ({summary(app)})", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=Path("tests/fixtures/tui/qa.jsonl"))
    parser.add_argument("--settle", type=float, default=0.0, help="seconds on the preview before the first example opens")
    parser.add_argument("-n", type=int, default=3, help="examples to open in turn")
    args = parser.parse_args()
    os.environ["FINETUI_HOME"] = tempfile.mkdtemp(prefix="finetui-bench-")
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    asyncio.run(measure(args.file, args.settle, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
