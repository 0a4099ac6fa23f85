"""How long a screen takes to show the first time (F3, F4, F1), against the same TUI at an earlier commit.

    python bench/tui_screens.py                  # 5 starts of each version, against --before
    python bench/tui_screens.py -n 9 --before 3f28473

In a real terminal: tmux, a detached 80x24 session (TERM=tmux-256color),
captured every ``--poll`` seconds (2 ms) through a control-mode client
(``bench/tmux_pane.py``). One sample is a fresh start of the TUI, with a
temporary ``FINETUI_HOME`` (no runs): once the data screen is up, the bench
presses F3 and times it to the runs dashboard's "No runs yet" note, then F4
to the playground's "No run is ready" note, then F2 back and F1 to the help
screen's text, and last F3 again (the runs screen already made: what a
later switch costs, for scale). Each figure is from the key sent to the
first capture that shows the screen, so it includes up to one poll; the
next key goes ``--settle`` seconds (0.5) later, once the work a screen does
after it shows (its workers, the rest of its layout) is over, so that no
step is charged with the one before.

- now: this checkout (``python -m tui.cli`` with it first on ``PYTHONPATH``);
- before: the commit ``--before`` (default ``ae57420``, the last one before
  screens' styles became their ``DEFAULT_CSS`` and a mode's new screen was
  marked as styled), checked out in a temporary ``git worktree`` and run the
  same way. Starts alternate between the two, so a busy spell hits both.

Printed: the median of each step for each version and the ratio now /
before. Exits 2 when tmux or git is missing, 1 when a screen never shows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import worktree  # noqa: E402
from tmux_pane import HEIGHT, REPO, TERM, WIDTH, Pane, TmuxServer, load_average  # noqa: E402

HELP_TEXT = "Fine-tune a language model on your own data"
#: (key, what the step is called, text on the screen once it shows, text gone from it by then)
STEPS = (
    ("F3", "runs (F3), first", "No runs yet", "Files in"),
    ("F4", "playground (F4), first", "No run is ready yet", "No runs yet"),
    ("F2", "data (F2), again", "Files in", "No run is ready yet"),
    ("F1", "help (F1), first", HELP_TEXT, "Files in"),  # the dialog covers the files panel's title
    ("Escape", "help closed", "Files in", HELP_TEXT),
    ("F3", "runs (F3), again", "No runs yet", "Files in"),
)
#: The data screen's files panel: the TUI is up.
READY = "Files in"


def shows(text: str, gone: str) -> Callable[[list[str]], bool]:
    """Whether the pane's lines show ``text``, and no longer ``gone`` (the screen before)."""
    return lambda lines: any(text in line for line in lines) and not any(gone in line for line in lines)


def sample(tmux: TmuxServer, name: str, checkout: Path, home: Path, args: argparse.Namespace) -> list[float]:
    """One fresh start of the TUI in ``checkout``: seconds from each step's key to its screen."""
    env = {"FINETUI_HOME": str(home), "PYTHONPATH": str(checkout)}
    pane: Pane = tmux.start(name, [sys.executable, "-m", "tui.cli"], cwd=checkout, env=env, unset=["PYTHONDONTWRITEBYTECODE"])
    try:
        pane.wait_for(lambda lines: any(READY in line for line in lines), since=pane.started, timeout=args.timeout, poll=args.poll)
        times = []
        for key, _, text, gone in STEPS:
            sent = pane.send_keys(key)
            times.append(pane.wait_for(shows(text, gone), since=sent, timeout=args.timeout, poll=args.poll).elapsed)
            time.sleep(args.settle)
        return times
    except TimeoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    finally:
        pane.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="starts of each version (default 5)")
    parser.add_argument("--before", default="ae57420", help="the commit to compare with (default ae57420)")
    parser.add_argument("--poll", type=float, default=0.002, help="seconds between two captures of the pane (default 0.002)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds between a screen showing and the next key (default 0.5)")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on a screen after this many seconds (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="finetui-screens-") as scratch_name, worktree.checkout(args.before, Path(scratch_name) / "before") as before:
        run(args, Path(scratch_name), before)


def run(args: argparse.Namespace, scratch: Path, before: Path) -> None:
    versions = {"before": before, "now": REPO}
    times: dict[str, list[list[float]]] = {name: [] for name in versions}
    with TmuxServer("screens") as tmux:
        print(f"tmux {tmux.version}, {TERM}, {WIDTH}x{HEIGHT}; capture every {args.poll * 1000:g} ms; before = {args.before}, now = {REPO}")
        print(f"before: {load_average()}")
        for name, checkout in versions.items():  # untimed: fills the bytecode caches
            sample(tmux, f"warm-{name}", checkout, scratch / f"home-warm-{name}", args)
        for i in range(1, args.n + 1):
            for name, checkout in versions.items():
                got = sample(tmux, f"{name}-{i}", checkout, scratch / f"home-{name}-{i}", args)
                times[name].append(got)
                print(f"start {i}, {name}: " + ", ".join(f"{step} {t:.3f} s" for (_, step, _, _), t in zip(STEPS, got, strict=True)))
        print(f"after: {load_average()}")
    print(f"\nmedians over {args.n} starts each (key to screen)")
    for index, (_, step, _, _) in enumerate(STEPS):
        old = statistics.median(run[index] for run in times["before"])
        new = statistics.median(run[index] for run in times["now"])
        print(f"  {step:24} before {old:.3f} s   now {new:.3f} s   ratio now / before {new / old:.2f}x")
    old, new = (statistics.median(sum(run) for run in times[name]) for name in ("before", "now"))
    print(f"  {'all six':24} before {old:.3f} s   now {new:.3f} s   ratio now / before {new / old:.2f}x")


if __name__ == "__main__":
    main()
