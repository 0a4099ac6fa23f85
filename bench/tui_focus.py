"""What a focus move costs in the train screen, against the same TUI at an earlier commit.

    python bench/tui_focus.py                    # 3 starts of each version, 30 Tabs each, against --before
    python bench/tui_focus.py -n 5 --tabs 40 --before 7497f1b
    python bench/tui_focus.py --between panels --before 2145273

A Tab moves the focus from one setting to the next; the train screen's
Settings panel holds about 60 widgets. The figure is the time Textual takes
to handle one Tab and reach idle: from the key to the end of ``pilot.pause()``
after it, with the app run headless by ``App.run_test()`` (80x24). That is
the work the key costs the TUI's one thread (restyling, layout, the footer,
the paint), with no terminal in the way; a user sees it as the delay before
the cursor moves, and as keys queued behind it when typing fast.

Each sample is a fresh process: it opens ``sample_data/haiku.txt`` on the
data screen, previews it, goes on to the train screen (``t``), focuses the
epochs field, waits ``--settle`` seconds for the screen's own work (the
estimate, the defaults) to end, and then presses Tab ``--tabs`` times,
each once the one before is handled; when the focus leaves the panel it is
put back on the epochs field, untimed.

``--between panels`` times moves between two panels instead: the focus goes
to the model field (the Model panel), then back to the epochs field (the
Settings panel), and so on, each move from ``focus()`` to idle. Each move
takes the focused-panel mark from one panel and gives it to the other.

- now: this checkout;
- before: the commit ``--before`` (default ``7497f1b``, the last one before
  the focused panel became a class that changes only when the focus enters
  or leaves a panel, instead of Textual's ``:focus-within``), checked out in
  a temporary ``git worktree``. Starts alternate between the two, so a busy
  spell hits both.

Printed: each start's median, then the median and p90 over every Tab of each
version and the ratio now / before. Exits 2 when git is missing, 1 when a
child fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import worktree  # noqa: E402
from worktree import REPO  # noqa: E402

#: Run in each checkout: prints the seconds each Tab took, as a JSON list.
CHILD = """
import asyncio, json, sys, time
from pathlib import Path

from textual.widgets import Input

from tui.app import FinetuiApp

TABS, SETTLE, BETWEEN = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]


async def until(pilot, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the train screen never came up")
        await pilot.pause(0.05)


async def main():
    app = FinetuiApp(start_path=Path("sample_data/haiku.txt"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        app.screen.query_one("#separator", Input).value = "--SEPARATOR--"
        await pilot.press("f5")
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#settings")) and "steps" in str(app.screen.query_one("#estimate").render()))
        settings, epochs = app.screen.query_one("#settings"), app.screen.query_one("#epochs", Input)
        epochs.focus()
        await pilot.pause(SETTLE)
        times = []
        model = app.screen.query_one("#model-panel").query(Input).first()
        while len(times) < TABS:
            start = time.perf_counter()
            if BETWEEN == "panels":
                (model if app.focused is epochs else epochs).focus()
            else:
                await pilot.press("tab")
            await pilot.pause()
            times.append(time.perf_counter() - start)
            if BETWEEN == "settings" and (app.focused is None or app.focused not in settings.walk_children()):
                epochs.focus()
                await pilot.pause()
        print(json.dumps(times))


asyncio.run(main())
"""


def sample(checkout: Path, home: Path, args: argparse.Namespace) -> list[float]:
    """One fresh process in ``checkout``: the seconds each Tab took."""
    env = {**os.environ, "FINETUI_HOME": str(home), "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(args.tabs), str(args.settle), args.between], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: the child in {checkout} failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3, help="starts of each version (default 3)")
    parser.add_argument("--tabs", type=int, default=30, help="moves timed in each start (default 30)")
    parser.add_argument("--between", choices=("settings", "panels"), default="settings",
                        help="Tab between settings, or move between the Model and Settings panels (default settings)")
    parser.add_argument("--before", default="7497f1b", help="the commit to compare with (default 7497f1b)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between the train screen showing and the first Tab (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="finetui-focus-") as scratch_name, worktree.checkout(args.before, Path(scratch_name) / "before") as before:
        run(args, Path(scratch_name), before)


def run(args: argparse.Namespace, scratch: Path, before: Path) -> None:
    versions = {"before": before, "now": REPO}
    times: dict[str, list[float]] = {name: [] for name in versions}
    where = "Tabs in the train screen's settings" if args.between == "settings" else "moves between the train screen's Model and Settings panels"
    print(f"{args.tabs} {where} a start, headless 80x24; before = {args.before}, now = {REPO}")
    print(f"load before: {os.getloadavg()[0]:.2f}")
    for i in range(1, args.n + 1):
        for name, checkout in versions.items():
            got = sample(checkout, scratch / f"home-{name}-{i}", args)
            times[name].extend(got)
            print(f"start {i}, {name}: median {statistics.median(got) * 1000:.1f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    old, new = (statistics.median(times[name]) for name in ("before", "now"))
    for name in versions:
        p90 = statistics.quantiles(times[name], n=10)[-1]
        print(f"  {name:6} median {statistics.median(times[name]) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms over {len(times[name])} moves")
    print(f"  ratio now / before (medians): {new / old:.2f}x")


if __name__ == "__main__":
    main()
