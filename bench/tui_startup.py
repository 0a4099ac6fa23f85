"""How long ``finetui`` takes to paint its first screen, against a bare Textual app (budget: 1 s).

    python bench/tui_startup.py                 # 5 runs in a real 80x24 tmux pane
    python bench/tui_startup.py -n 10 --poll 0.001
    python bench/tui_startup.py --headless      # Textual's headless driver; no tmux needed

What is timed, in the tmux mode (the default): from the moment tmux is asked
to start the process in a new detached 80x24 session (TERM=tmux-256color) to
the first capture of the pane that shows the data screen (its "Files in"
panel title). The pane is captured every ``--poll`` seconds (2 ms) through a
tmux control-mode client (``bench/tmux_pane.py``), so a figure is late by at
most one poll interval. Each run is a fresh interpreter, so every import
counts, as it does for a user.

- finetui: the ``finetui`` console script (the one next to this Python, so
  not a version manager's shim), run bare from the repository root with a
  temporary ``FINETUI_HOME``: ``tui.cli.main`` and then the TUI, as a user
  starts it.
- baseline, in the same run and the same tmux setup: a minimal Textual app
  that paints one ``Static``; the floor any Textual app pays (the
  interpreter, Textual's imports, the first frame). Runs alternate between
  the two, so a busy spell hits both.

- the same widgets (tmux mode only): a plain Textual app that composes the
  widget classes of finetui's first screen in its layout (Header,
  DirectoryTree, OptionList, Inputs, Select, Button, Footer) and nothing of
  finetui. Textual's own cost for those widgets (their imports, default CSS,
  mounting, a directory listing) is most of the gap to the minimal app; the
  ratio to this one is what finetui's code adds on top.

The ratio is finetui's median over the baseline's median; the absolute
median is also compared with the 1 s budget. Each run also reads the CPU
time (user + system, ``/proc/PID/stat``) the process had used when its first
screen showed: on a busy machine wall time grows with the load, CPU time
hardly does, so its ratio is the steadier one.

Bytecode: both run with ``PYTHONDONTWRITEBYTECODE`` unset and a temporary
``PYTHONPYCACHEPREFIX``, and one untimed warm-up run each fills that cache,
as a user's first launch fills ``__pycache__`` (the warm-up figure is shown:
it is what a very first launch costs). Nothing is written in the repository.

Heavy imports, checked for real: in every timed run, once the screen has
painted and ``--linger`` seconds (1 s) later, ``/proc/PID/maps`` of the TUI's
process is read for shared objects of torch, tokenizers, safetensors,
bitsandbytes... (pure-Python transformers and peft have none, but peft loads
torch). Then one untimed audit run starts finetui with a ``sitecustomize``
on ``PYTHONPATH`` that, at exit, writes which of torch, transformers, peft,
accelerate, bitsandbytes, tokenizers and safetensors are in ``sys.modules``;
the bench quits it with Ctrl+Q after the linger. No code in ``tui/`` changes.

``--headless`` keeps the older way (the former ``bench/tui_first_paint.py``):
the child runs the app with Textual's headless driver and, from its auto
pilot, prints a line after ``pilot.pause()``; the parent times that line. No
terminal is involved, but ``pilot.pause()`` waits until the app has handled
every pending message (work queued by the first screen, the pilot's own
imports), so it reads higher than the tmux figure, not lower. It needs no
tmux; the heavy-import checks do, and are skipped.

Exits 2 when tmux is missing (tmux mode), 1 when an app does not paint.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tmux_pane import HEAVY, HEIGHT, REPO, TERM, WIDTH, TmuxServer, cpu_seconds, finetui_command, load_average, mapped_heavy_libraries, repo_python_path  # noqa: E402

BUDGET_S = 1.0
#: Text on the data screen (the files panel's title) once it has painted.
MARKER = "Files in"
BASELINE_MARKER = "minimal textual app painted"

BASELINE_APP = f"""
from textual.app import App
from textual.widgets import Static


class Minimal(App[None]):
    def compose(self):
        yield Static({BASELINE_MARKER!r})


Minimal().run()
"""

WIDGETS_MARKER = "same widgets painted"

#: Textual's widgets of the data screen (``tui/screens/data.py``), in its layout, with none of finetui's code.
WIDGETS_APP = f"""
from textual.app import App
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DirectoryTree, Footer, Header, Input, Label, OptionList, Select, Static


class SameWidgets(App[None]):
    def compose(self):
        yield Header()
        with Horizontal():
            with Vertical() as files:
                files.border_title = {WIDGETS_MARKER!r}
                yield DirectoryTree(".")
            with Vertical():
                yield OptionList()
                yield Static("recent files")
        with Vertical():
            with Horizontal():
                yield Label("File")
                yield Input(compact=True)
            with Horizontal():
                yield Label("Format")
                yield Select([(name, name) for name in ("auto", "txt", "jsonl", "json", "csv")], value="auto", allow_blank=False, compact=True)
                yield Label("Separator")
                yield Input(compact=True)
                yield Button("Preview", variant="primary", compact=True)
            with Horizontal():
                yield Label("Map")
                yield Input(compact=True)
        yield Static("hint")
        yield Footer()

    CSS = "Vertical {{ border: round $accent; }}"


SameWidgets().run()
"""

#: Headless children print "painted" once the first screen is up, then exit.
HEADLESS_FINETUI = """
import tui.cli  # what the console script imports before it opens the TUI
from tui.app import FinetuiApp

async def painted(pilot):
    await pilot.pause()
    print("painted", flush=True)
    pilot.app.exit()

FinetuiApp().run(headless=True, size=(80, 24), auto_pilot=painted)
"""

HEADLESS_BASELINE = f"""
from textual.app import App
from textual.widgets import Static


class Minimal(App[None]):
    def compose(self):
        yield Static({BASELINE_MARKER!r})


async def painted(pilot):
    await pilot.pause()
    print("painted", flush=True)
    pilot.app.exit()

Minimal().run(headless=True, size=(80, 24), auto_pilot=painted)
"""

#: Put on PYTHONPATH for the audit run: at exit, write which heavy packages were imported.
SITECUSTOMIZE = f"""
import atexit, os, sys

def _write_heavy_modules():
    heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
    with open(os.environ["FINETUI_BENCH_MODULES"], "w") as out:
        out.write(" ".join(heavy) + "\\n" + str(len(sys.modules)) + "\\n")

atexit.register(_write_heavy_modules)
"""


@dataclass
class Paint:
    """One start: seconds to first paint, CPU seconds the process used by then, heavy libraries mapped."""

    seconds: float
    cpu: float
    heavy_at_paint: list[str]
    heavy_after_linger: list[str]


def child_env(home: Path, pycache: Path) -> dict[str, str]:
    return {"FINETUI_HOME": str(home), "PYTHONPYCACHEPREFIX": str(pycache), "PYTHONPATH": repo_python_path()}


def tmux_paint(tmux: TmuxServer, name: str, argv: list[str], marker: str, env: dict[str, str], args: argparse.Namespace) -> Paint:
    """Start ``argv`` in a fresh pane and time it to ``marker`` on screen; then look at its mapped libraries."""
    pane = tmux.start(name, argv, env=env, unset=["PYTHONDONTWRITEBYTECODE"])
    try:
        wait = pane.wait_for(lambda lines: any(marker in line for line in lines), since=pane.started, timeout=args.timeout, poll=args.poll)
        pid = pane.pid
        cpu = cpu_seconds(pid) or 0.0
        at_paint = mapped_heavy_libraries(pid)
        time.sleep(args.linger)
        after = mapped_heavy_libraries(pid)
        return Paint(wait.elapsed, cpu, at_paint, after)
    except TimeoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    finally:
        pane.kill()


def audit_imports(tmux: TmuxServer, argv: list[str], env: dict[str, str], args: argparse.Namespace, scratch: Path) -> tuple[list[str], int]:
    """Run finetui once with the ``sys.modules`` recorder, quit it with Ctrl+Q; heavy names, module count."""
    site = scratch / "audit-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    report = scratch / "modules.txt"
    python_path = os.pathsep.join((str(site), env["PYTHONPATH"]))
    pane = tmux.start("audit", argv, env={**env, "PYTHONPATH": python_path, "FINETUI_BENCH_MODULES": str(report)}, unset=["PYTHONDONTWRITEBYTECODE"])
    try:
        pane.wait_for(lambda lines: any(MARKER in line for line in lines), since=pane.started, timeout=args.timeout, poll=args.poll)
        time.sleep(args.linger)
        pane.send_keys("C-q")
        deadline = time.perf_counter() + 15
        while pane.alive() and time.perf_counter() < deadline:
            time.sleep(0.05)
    except TimeoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    finally:
        pane.kill()
    if not report.exists():
        raise SystemExit("error: the audit run did not write its module list (did Ctrl+Q quit the app?)")
    heavy, count = report.read_text(encoding="utf-8").splitlines()
    return heavy.split(), int(count)


def headless_paint(code: str, env: dict[str, str]) -> float:
    """Seconds from starting a child with ``code`` to its "painted" line."""
    full_env = {**os.environ, **env}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=full_env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.wait(timeout=30)
    if line.strip() != "painted":
        raise SystemExit(f"error: the app did not paint (exit code {child.returncode})")
    return elapsed


def spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def heavy_text(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def run_tmux(args: argparse.Namespace, scratch: Path) -> None:
    env = child_env(scratch / "home", scratch / "pycache")
    (scratch / "home").mkdir()
    finetui = shlex.split(args.command) if args.command else finetui_command()
    baseline_script = scratch / "minimal_textual_app.py"
    baseline_script.write_text(BASELINE_APP, encoding="utf-8")
    baseline = [sys.executable, str(baseline_script)]
    widgets_script = scratch / "same_widgets_app.py"
    widgets_script.write_text(WIDGETS_APP, encoding="utf-8")
    widgets = [sys.executable, str(widgets_script)]
    with TmuxServer("startup") as tmux:
        print(f"tmux first paint: {tmux.version}, {TERM}, {WIDTH}x{HEIGHT}; capture every {args.poll * 1000:g} ms through a control client")
        print(f"finetui: {' '.join(finetui)} (cwd {REPO}, PYTHONPATH={env['PYTHONPATH']}, temporary FINETUI_HOME and bytecode cache)")
        print(f"baseline: {Path(sys.executable).name} minimal_textual_app.py (a Textual App that paints one Static)")
        print(f"same widgets: {Path(sys.executable).name} same_widgets_app.py (the first screen's Textual widgets, none of finetui)")
        print(f"before: {load_average()}")
        warm_base = tmux_paint(tmux, "warm-baseline", baseline, BASELINE_MARKER, env, args)
        warm_app = tmux_paint(tmux, "warm-finetui", finetui, MARKER, env, args)
        print(
            "warm-up, untimed (fills the bytecode cache; the baseline goes first and compiles Textual for both): "
            f"baseline {warm_base.seconds:.3f} s, finetui {warm_app.seconds:.3f} s"
        )
        base_times: list[float] = []
        app_times: list[float] = []
        base_cpu: list[float] = []
        app_cpu: list[float] = []
        widget_times: list[float] = []
        tmux_paint(tmux, "warm-widgets", widgets, WIDGETS_MARKER, env, args)
        heavy_seen: set[str] = set(warm_app.heavy_at_paint) | set(warm_app.heavy_after_linger)
        for i in range(1, args.n + 1):
            base = tmux_paint(tmux, f"baseline-{i}", baseline, BASELINE_MARKER, env, args)
            app = tmux_paint(tmux, f"finetui-{i}", finetui, MARKER, env, args)
            widget_times.append(tmux_paint(tmux, f"widgets-{i}", widgets, WIDGETS_MARKER, env, args).seconds)
            base_times.append(base.seconds)
            app_times.append(app.seconds)
            base_cpu.append(base.cpu)
            app_cpu.append(app.cpu)
            heavy_seen |= set(app.heavy_at_paint) | set(app.heavy_after_linger)
            print(
                f"run {i}: baseline {base.seconds:.3f} s (CPU {base.cpu:.2f} s), finetui {app.seconds:.3f} s (CPU {app.cpu:.2f} s), "
                f"{app.seconds / base.seconds:.2f}x; same widgets {widget_times[-1]:.3f} s; heavy libraries mapped at paint: {heavy_text(app.heavy_at_paint)}, "
                f"{args.linger:g} s later: {heavy_text(app.heavy_after_linger)}"
            )
        heavy_modules, module_count = audit_imports(tmux, finetui, env, args, scratch)
        print(f"after: {load_average()}")
    report(base_times, app_times, f"tmux {WIDTH}x{HEIGHT}", args.poll)
    same = statistics.median(widget_times)
    print(f"  same widgets, no finetui code: {spread(widget_times)}")
    print(f"  ratio finetui / same widgets: {statistics.median(app_times) / same:.2f}x (medians); same widgets / minimal: "
          f"{same / statistics.median(base_times):.2f}x")
    base, app = statistics.median(base_cpu), statistics.median(app_cpu)
    print(
        f"  CPU time of the process by first paint (steadier than wall time on a busy machine; 10 ms ticks): "
        f"minimal {base:.2f} s, finetui {app:.2f} s, ratio {app / base:.2f}x (medians)"
    )
    print(f"heavy libraries mapped (/proc/PID/maps, {args.n + 1} runs, at paint and {args.linger:g} s later): {heavy_text(sorted(heavy_seen))}")
    print(
        f"heavy modules imported (sys.modules at Ctrl+Q, audit run, {args.linger:g} s on screen): "
        f"{heavy_text(heavy_modules)} ({module_count} modules in all; looked for {', '.join(HEAVY)})"
    )


def run_headless(args: argparse.Namespace, scratch: Path) -> None:
    env = child_env(scratch / "home", scratch / "pycache")
    (scratch / "home").mkdir()
    print(f"headless first paint (Textual's headless driver, 80x24); before: {load_average()}")
    warm_base, warm_app = headless_paint(HEADLESS_BASELINE, env), headless_paint(HEADLESS_FINETUI, env)
    print(
        "warm-up, untimed (fills the bytecode cache; the baseline goes first and compiles Textual for both): "
        f"baseline {warm_base:.3f} s, finetui {warm_app:.3f} s"
    )
    base_times: list[float] = []
    app_times: list[float] = []
    for i in range(1, args.n + 1):
        base, app = headless_paint(HEADLESS_BASELINE, env), headless_paint(HEADLESS_FINETUI, env)
        base_times.append(base)
        app_times.append(app)
        print(f"run {i}: baseline {base:.3f} s, finetui {app:.3f} s ({app / base:.2f}x)")
    print(f"after: {load_average()}")
    report(base_times, app_times, "headless 80x24", None)
    print("heavy imports: not checked in headless mode (run without --headless)")


def report(base_times: list[float], app_times: list[float], mode: str, poll: float | None) -> None:
    base, app = statistics.median(base_times), statistics.median(app_times)
    late = f"; each figure is late by at most one poll ({poll * 1000:g} ms)" if poll else ""
    print(f"\nfirst paint, {mode}, {len(app_times)} runs each{late}")
    print(f"  minimal Textual app: {spread(base_times)}")
    print(f"  finetui:             {spread(app_times)}")
    print(f"  ratio finetui / minimal Textual app: {app / base:.2f}x (medians)")
    verdict = "within" if app <= BUDGET_S else "OVER"
    print(f"  budget: finetui median {app:.3f} s of {BUDGET_S:.1f} s: {verdict} budget ({app / BUDGET_S:.0%} of it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="timed runs of each app (default 5)")
    parser.add_argument("--poll", type=float, default=0.002, help="seconds between two captures of the pane (default 0.002)")
    parser.add_argument("--linger", type=float, default=1.0, help="seconds on screen before the second look at the mapped libraries (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on a run after this many seconds (default 60)")
    parser.add_argument("--command", help="start finetui with this command instead (split as a shell would), e.g. 'python -m tui.cli'")
    parser.add_argument("--headless", action="store_true", help="use Textual's headless driver instead of tmux (no heavy-import check)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="finetui-startup-") as scratch:
        (run_headless if args.headless else run_tmux)(args, Path(scratch))


if __name__ == "__main__":
    main()
