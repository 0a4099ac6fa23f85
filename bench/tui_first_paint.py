"""Measure how long ``finetui`` takes to paint its first screen (the budget is one second).

Each run starts a fresh interpreter, so imports count, as they do for a user.
Two ways to measure, both timed from process start in the parent:

- headless (default): the child runs the app with Textual's headless driver
  and prints a line once the data screen has been composed and rendered;
- ``--tmux``: the app runs in a real 80x24 tmux pane, and the pane is polled
  until the data screen's text shows up.

    python bench/tui_first_paint.py            # 5 headless runs
    python bench/tui_first_paint.py --tmux -n 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Text that is on the data screen only once it has painted.
MARKER = "Files in"

HEADLESS_CHILD = """
from tui.app import FinetuiApp

async def painted(pilot):
    await pilot.pause()
    print("painted", flush=True)
    pilot.app.exit()

FinetuiApp().run(headless=True, size=(80, 24), auto_pilot=painted)
"""


def headless_run(env: dict[str, str]) -> float:
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", HEADLESS_CHILD], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.wait(timeout=30)
    if line.strip() != "painted":
        raise SystemExit(f"the app did not paint (exit code {child.returncode})")
    return elapsed


def tmux_run(env: dict[str, str]) -> float:
    session = f"finetui-bench-{os.getpid()}"
    app = "from tui.app import FinetuiApp; FinetuiApp().run()"
    command = f"cd {REPO} && FINETUI_HOME={env['FINETUI_HOME']} {sys.executable} -c '{app}'"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command], check=True)
    try:
        while time.perf_counter() - start < 30:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if MARKER in pane:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise SystemExit("the app did not paint within 30 s")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="runs (default 5)")
    parser.add_argument("--tmux", action="store_true", help="paint in a real tmux pane instead of headless")
    args = parser.parse_args()
    if args.tmux and shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FINETUI_HOME": home}
        run = tmux_run if args.tmux else headless_run
        times = [run(env) for _ in range(args.n)]
    mode = "tmux 80x24" if args.tmux else "headless 80x24"
    median, low, high = statistics.median(times), min(times), max(times)
    print(f"first paint ({mode}, {args.n} runs): median {median:.2f} s, min {low:.2f} s, max {high:.2f} s")


if __name__ == "__main__":
    main()
