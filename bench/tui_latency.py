"""Key press to screen update in the finetui TUI, with and without a training run going.

    python bench/tui_latency.py                  # 40 samples a phase, a 300-step training run
    python bench/tui_latency.py -n 60 --poll 0.001 --max-steps 600

It works in a real terminal: tmux, a detached 80x24 session (TERM=tmux-256color)
on a private socket, driven through one control-mode client
(``bench/tmux_pane.py``). A sample is one key sent to the pane (``send-keys``)
and the time until a capture of the pane first shows its effect; the pane is
captured every ``--poll`` seconds (2 ms), so each figure includes up to one
poll interval (the interval actually achieved is printed: ``time.sleep``
oversleeps on a busy machine). Samples are ``--gap`` seconds apart (0.1 s,
jittered), so keys do not queue behind each other.

The key: the data screen's path box (``#path``). The bench Tabs from the
folder tree into it, types ``x``, then alternates typing ``y`` (the box shows
``xy``) and Backspace (``x``); the row starting ``File`` is read from each
capture. Typing is what the user does most, and the data screen is the one
screen that is the same with or without runs (the runs screen shows the
training run, so it would do different work in the two phases).

Phases, in this order, all in one run of the bench:

1. baseline: a minimal Textual app with the same ``File`` label and a
   compact ``Input``, nothing else: the floor that Textual, tmux and the
   measuring add (``finetui / minimal`` ratio);
2. idle: ``finetui`` (the console script next to this Python), started from
   the repository root with a temporary ``FINETUI_HOME``, no run;
3. training: the same TUI process (so the two phases differ only by the run),
   while ``finetui train sample_data/haiku.txt --separator '--SEPARATOR--'
   --max-steps 300 --detach`` trains the bundled finetui-tiny on the CPU with
   the same ``FINETUI_HOME``. The TUI sees that run: its monitor reads the
   runs' states every second. Measuring starts once the run is ``training``
   and has logged its first step (the model is loaded, the baseline eval
   done), and the bench checks that steps went on during the phase;
   Then, still in that run, ``--pairs`` (4) pairs of short blocks that
   alternate between the run stopped (SIGSTOP to its process group; the
   worker starts its own session) and going again (SIGCONT): on a shared,
   busy machine the load drifts between phases 2 and 3, and interleaving
   makes the going / stopped ratio immune to that drift;
4. after: the same TUI again once the run is cancelled (``finetui cancel``)
   and stopped, to tell the run's effect from drift over time.

It prints each phase's median and p90, the ratio training / idle of the
medians, the drift check after / idle, and the interleaved going / stopped. At the end the tmux server (and so the TUI) is killed; the run is
cancelled in any case, even when the bench fails half way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tmux_pane import HEIGHT, REPO, TERM, WIDTH, Pane, TmuxServer, cpu_seconds, finetui_command, load_average, repo_python_path  # noqa: E402

#: Text on the data screen once it has painted.
MARKER = "Files in"
#: The form row with the path box: " File   <value>".
FIELD_ROW = re.compile(r"^\s*File\s+(.*?)\s*$")

BASELINE_APP = """
from textual.app import App
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static


class Minimal(App[None]):
    CSS = "Horizontal { height: 1; } Label { width: 7; } Input { width: 1fr; }"

    def compose(self):
        with Horizontal():
            yield Label("File")
            yield Input(placeholder="type here", compact=True)
        yield Static("minimal textual app painted")


Minimal().run()
"""


@dataclass
class Phase:
    """One phase's samples (seconds) and how finely the pane was watched."""

    name: str
    samples: list[float]
    mean_poll: float
    """Mean seconds between two captures while waiting, as achieved."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]

    def line(self) -> str:
        ms = [s * 1000 for s in self.samples]
        return (
            f"{self.name:<10} median {self.median * 1000:7.1f} ms  p90 {self.p90 * 1000:7.1f} ms  "
            f"min {min(ms):6.1f}  max {max(ms):7.1f}  ({len(ms)} samples, a capture every {self.mean_poll * 1000:.1f} ms)"
        )


def field_value(lines: list[str]) -> str | None:
    """What the ``File`` row shows (the typed value, or the placeholder), or None if there is no such row."""
    for line in lines:
        match = FIELD_ROW.match(line)
        if match:
            return match.group(1)
    return None


def focus_path_box(pane: Pane, timeout: float) -> None:
    """Tab until typing lands in the path box, which then holds ``x``.

    Each Tab is given time to land: Textual moves the focus through its
    message queue, so a key that arrives in the same burst as the Tab still
    goes to the widget that had the focus.
    """
    for _ in range(6):
        pane.send_keys("Tab")
        time.sleep(0.5)
        sent = pane.type("x")
        try:
            pane.wait_for(lambda lines: field_value(lines) == "x", since=sent, timeout=timeout)
            return
        except TimeoutError:
            pane.send_keys("BSpace")
            time.sleep(0.5)
    raise SystemExit("error: could not get typing into the File box:\n" + "\n".join(pane.capture()))


def measure(pane: Pane, name: str, args: argparse.Namespace, n: int | None = None, warmup: int | None = None) -> Phase:
    """``n`` timed key presses (``args.n``), after ``warmup`` untimed ones, alternating ``y`` and Backspace.

    Both counts are even, so the box holds ``x`` before and after.
    """
    n = args.n if n is None else n
    warmup = args.warmup if warmup is None else warmup
    samples: list[float] = []
    polls = 0
    span = 0.0
    for i in range(warmup + n):
        time.sleep(args.gap * random.uniform(0.5, 1.5))
        if i % 2 == 0:
            want, sent = "xy", pane.type("y")
        else:
            want, sent = "x", pane.send_keys("BSpace")
        wait = pane.wait_for(lambda lines, want=want: field_value(lines) == want, since=sent, timeout=args.timeout, poll=args.poll)
        if i < warmup:
            continue
        samples.append(wait.elapsed)
        polls += wait.polls - 1
        span += wait.poll_span
    return Phase(name, samples, span / polls if polls else args.poll)


def start_tui(tmux: TmuxServer, name: str, argv: list[str], env: dict[str, str], args: argparse.Namespace) -> Pane:
    """Start ``argv`` in a pane, wait for its first screen, then focus its File box."""
    pane = tmux.start(name, argv, env=env)
    marker = MARKER if name == "finetui" else "minimal textual app painted"
    try:
        painted = pane.wait_for(lambda lines: any(marker in line for line in lines), since=pane.started, timeout=60, poll=args.poll)
    except TimeoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{name}: first screen after {painted.elapsed:.2f} s")
    focus_path_box(pane, timeout=args.timeout)
    return pane


class TrainingRun:
    """The background training run: started with the CLI, watched through its files, cancelled with the CLI."""

    def __init__(self, finetui: list[str], env: dict[str, str]) -> None:
        self.finetui = finetui
        self.env = {**os.environ, **env}
        self.id: str | None = None
        self.dir: Path | None = None
        self.paused: int | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([*self.finetui, *args], cwd=REPO, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"error: finetui {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, data: str, separator: str, max_steps: int) -> None:
        out = self.cli("train", data, "--separator", separator, "--max-steps", str(max_steps), "--detach")
        match = re.search(r"^run (\S+) started", out, re.MULTILINE)
        if match is None:
            raise SystemExit(f"error: no run id in the output of finetui train:\n{out}")
        self.id = match.group(1)
        runs = json.loads(self.cli("runs", "--json"))
        self.dir = Path(next(r["dir"] for r in runs if r["id"] == self.id))

    def state(self) -> str:
        assert self.dir is not None
        return json.loads((self.dir / "status.json").read_text(encoding="utf-8"))["state"]

    def steps(self) -> int:
        """The latest step in the event log (0 before the first)."""
        assert self.dir is not None
        step = 0
        path = self.dir / "events.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if '"step"' in line:
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line being written
                    if event.get("kind") == "step":
                        step = int(event["step"])
        return step

    def wait_training(self, timeout: float) -> float:
        """Wait until the run is ``training`` and has logged a step; seconds waited."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            state = self.state()
            if state == "training" and self.steps() > 0:
                return time.perf_counter() - start
            if state not in ("queued", "training"):
                raise SystemExit(f"error: run {self.id} is {state} before training; see finetui show {self.id}")
            time.sleep(0.5)
        raise SystemExit(f"error: run {self.id} did not log a training step within {timeout:.0f} s")

    def pid(self) -> int | None:
        assert self.dir is not None
        pid = json.loads((self.dir / "status.json").read_text(encoding="utf-8")).get("pid")
        return int(pid) if pid else None

    def pause(self) -> None:
        """SIGSTOP the run's process group (the worker starts its own session, so the group is the run)."""
        pid = self.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGSTOP)
            self.paused = pid

    def go_on(self) -> None:
        """SIGCONT what ``pause`` stopped; safe to call when nothing is paused."""
        if self.paused is not None:
            try:
                os.killpg(self.paused, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.paused = None

    def cpu_seconds(self) -> float | None:
        """CPU time the run's process has used so far, or None when it is gone."""
        assert self.dir is not None
        pid = self.pid()
        return cpu_seconds(pid) if pid else None

    def row(self) -> str:
        """The run's row in ``finetui runs``."""
        lines = self.cli("runs").splitlines()
        return "\n".join(line for line in lines if line.startswith(("RUN ", str(self.id))))

    def cancel(self, timeout: float = 120.0) -> str:
        """``finetui cancel``, then wait for the run to stop; its final state."""
        if self.id is None:
            return "not started"
        if self.dir is None:
            self.cli("cancel", self.id)
            return "asked to stop"
        if self.state() not in ("queued", "training"):
            return self.state()
        self.cli("cancel", self.id)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            state = self.state()
            if state not in ("queued", "training"):
                return state
            time.sleep(0.5)
        return self.state() + f" (still, {timeout:.0f} s after finetui cancel)"


def paired(pane: Pane, run: TrainingRun, args: argparse.Namespace) -> list[Phase]:
    """Alternate blocks with the run stopped (SIGSTOP) and going, so a change in the machine's load hits both.

    ``args.pairs`` pairs of blocks, ``args.n / args.pairs`` key presses each
    (even, at least 2), after 2 untimed ones; the run is given 0.5 s to get
    going again before each going block.
    """
    per_block = max(2, args.n // args.pairs)
    per_block += per_block % 2
    stopped = Phase("stopped", [], 0.0)
    going = Phase("going", [], 0.0)
    for _ in range(args.pairs):
        run.pause()
        try:
            block = measure(pane, "stopped", args, n=per_block, warmup=2)
        finally:
            run.go_on()
        stopped.samples += block.samples
        stopped.mean_poll += block.mean_poll / args.pairs
        time.sleep(0.5)
        block = measure(pane, "going", args, n=per_block, warmup=2)
        going.samples += block.samples
        going.mean_poll += block.mean_poll / args.pairs
    print(f"  paired: {args.pairs} pairs of blocks of {per_block} key presses, the run SIGSTOPped / going")
    print(f"  {stopped.line()}")
    print(f"  {going.line()}  [{load_average()}]")
    return [stopped, going]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=40, help="key presses a phase, rounded up to even (default 40)")
    parser.add_argument("--poll", type=float, default=0.002, help="seconds between two captures of the pane (default 0.002)")
    parser.add_argument("--warmup", type=int, default=4, help="untimed key presses before each phase, rounded up to even (default 4)")
    parser.add_argument("--gap", type=float, default=0.1, help="mean seconds between two key presses (default 0.1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="give up on a key press after this many seconds (default 10)")
    parser.add_argument("--data", default="sample_data/haiku.txt", help="training data (default sample_data/haiku.txt)")
    parser.add_argument("--separator", default="--SEPARATOR--", help="its separator (default --SEPARATOR--)")
    parser.add_argument("--max-steps", type=int, default=300, help="the training run's steps (default 300)")
    parser.add_argument("--load-timeout", type=float, default=600.0, help="seconds to wait for the run's first step (default 600)")
    parser.add_argument("--pairs", type=int, default=4, help="pairs of blocks with the run stopped / going, 0 for none (default 4)")
    parser.add_argument("--command", help="start finetui with this command instead (split as a shell would), e.g. 'python -m tui.cli'")
    args = parser.parse_args()
    args.n += args.n % 2
    args.warmup += args.warmup % 2
    finetui = shlex.split(args.command) if args.command else finetui_command()
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="finetui-latency-") as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        env = {"FINETUI_HOME": str(home), "PYTHONPATH": repo_python_path()}
        baseline_script = Path(scratch) / "minimal_textual_input.py"
        baseline_script.write_text(BASELINE_APP, encoding="utf-8")
        run = TrainingRun(finetui, env)
        with TmuxServer("latency") as tmux:
            print(
                f"key press to screen update: {tmux.version}, {TERM}, {WIDTH}x{HEIGHT}; "
                f"finetui: {' '.join(finetui)} (cwd {REPO}, PYTHONPATH={env['PYTHONPATH']})"
            )
            print(f"a capture every {args.poll * 1000:g} ms, keys {args.gap:g} s apart (jittered); each figure includes up to one capture interval")
            print(f"start: {load_average()}")
            try:
                baseline = start_tui(tmux, "baseline", [sys.executable, str(baseline_script)], env, args)
                phases.append(measure(baseline, "baseline", args))
                baseline.kill()
                print(f"  {phases[-1].line()}")

                pane = start_tui(tmux, "finetui", finetui, env, args)
                phases.append(measure(pane, "idle", args))
                print(f"  {phases[-1].line()}  [{load_average()}]")

                run.start(args.data, args.separator, args.max_steps)
                print(f"started run {run.id}: finetui train {args.data} --separator {args.separator} --max-steps {args.max_steps} --detach")
                waited = run.wait_training(args.load_timeout)
                print(f"run {run.id} training after {waited:.0f} s; finetui runs says:\n{run.row()}")
                first, cpu_before, wall_before = run.steps(), run.cpu_seconds(), time.perf_counter()
                phases.append(measure(pane, "training", args))
                last, cpu_after, wall = run.steps(), run.cpu_seconds(), time.perf_counter() - wall_before
                state = run.state()
                print(f"  {phases[-1].line()}  [{load_average()}]")
                busy = (cpu_after - cpu_before) / wall if cpu_before is not None and cpu_after is not None else 0.0
                print(
                    f"  during the phase ({wall:.1f} s) the run was {state}, went from step {first} to {last} "
                    f"and used {busy:.2f} CPU cores (its process's CPU time / wall time)"
                )
                if state != "training" or busy < 0.2:
                    print("  warning: the run was not busy training all through the phase; the figure is not a with-run figure")
                if args.pairs:
                    phases.extend(paired(pane, run, args))
            finally:
                run.go_on()
                print(f"cancelling run {run.id}: {run.cancel()}")
            phases.append(measure(pane, "after", args))
            print(f"  {phases[-1].line()}  [{load_average()}]")
            pane.kill()
    by_name = {p.name: p for p in phases}
    print(f"\nkey press to screen update, tmux {WIDTH}x{HEIGHT}, {args.n} samples a phase (each includes up to one capture interval, ~{args.poll * 1000:g} ms)")
    for phase in phases:
        print(f"  {phase.line()}")
    idle, training, after, base = by_name["idle"], by_name["training"], by_name["after"], by_name["baseline"]
    print(f"  ratio training / idle (medians): {training.median / idle.median:.2f}x; p90s: {training.p90 / idle.p90:.2f}x")
    print(f"  ratio after / idle (medians, drift check): {after.median / idle.median:.2f}x")
    if "going" in by_name:
        going, stopped = by_name["going"], by_name["stopped"]
        print(f"  ratio going / stopped, interleaved blocks (medians): {going.median / stopped.median:.2f}x; p90s: {going.p90 / stopped.p90:.2f}x")
    print(f"  ratio idle finetui / minimal Textual app (medians): {idle.median / base.median:.2f}x")
    print(f"end: {load_average()}")


if __name__ == "__main__":
    main()
