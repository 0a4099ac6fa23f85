"""Peak memory of the training worker on large data: a 50 MB single-line text file and a 200 MB corpus.

Runs the real ``finetui train FILE --max-steps N`` (the CLI, which starts the
detached worker ``python -m engine.train.worker``) with the bundled model,
and samples every process the CLI starts, reading each one's ``VmHWM`` (the
kernel's own peak resident set) from ``/proc`` until it ends. The worker's
figure is the one that matters: it tokenizes, packs and trains.

    python bench/train_memory.py [--max-steps 2] [--eval-fraction 0.001] [--baseline REF] [--only oneline|corpus] [--timeout 1800]

``--baseline REF`` measures the same files the same way on a ``git worktree``
of ``REF`` (an older commit), in the same run, and prints both sides with
their ratio. The data is built in a temp folder: (a) the bundled corpus-v2
books with every run of whitespace made one space, repeated up to 50 MB, with
no newline at all; (b) the same books concatenated as they are, repeated up to
200 MB. A side that runs past ``--timeout`` seconds is stopped, and its peak
so far is printed with the phase it had reached (tokenizing and packing are
in ``loading``). The eval split is kept small (``--eval-fraction``, 0.1% by
default): scoring it twice on a CPU would take most of the time and measure
nothing the training split does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.worktree import checkout  # noqa: E402

MB = 1_000_000
MIB = 1024 * 1024
WORKER = "engine.train.worker"


def _books() -> list[Path]:
    return sorted((REPO / "sample_data" / "corpus-v2").glob("*.txt"))


def one_line(path: Path, size: int) -> None:
    """The books with whitespace collapsed to single spaces, repeated to ``size`` bytes, no newline anywhere."""
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in _books()).encode("utf-8")
    with path.open("wb") as fh:
        left = size
        while left > 0:
            piece = text[:left]
            fh.write(piece)
            left -= len(piece)
            if left > 0:
                fh.write(b" ")
                left -= 1
    # Cutting at a byte count may split a UTF-8 character at the end: drop the broken tail.
    data = path.read_bytes()
    path.write_bytes(data.decode("utf-8", errors="ignore").encode("utf-8"))


def corpus(path: Path, size: int) -> None:
    """The books concatenated as they are, over and over, until the file holds ``size`` bytes."""
    with path.open("wb") as fh:
        written = 0
        while written < size:
            for book in _books():
                data = book.read_bytes()
                fh.write(data + b"\n\n")
                written += len(data) + 2
                if written >= size:
                    break


@dataclass
class Measured:
    """One side's run on one file: peak resident memory of the worker and the CLI, wall time, how it ended."""

    worker_peak: int
    worker_peak_to_training: int
    cli_peak: int
    wall_s: float
    until_training_s: float | None
    tokenize_s: float | None
    ended: str


def _hwm(pid: int) -> int:
    """The process's peak resident set (``VmHWM``) in bytes; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _events(home: Path) -> list[dict]:
    records = []
    for events in home.glob("runs/*/events.jsonl"):
        for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def _phase(home: Path) -> str:
    """The last phase the run announced, from its events file: how far a run got."""
    phases = [str(r.get("phase")) for r in _events(home) if r.get("kind") == "phase"]
    return phases[-1] if phases else "starting"


def _tokenize_s(home: Path) -> float | None:
    """Seconds from the chat template's log line (the model is loaded) to the train-token count (tokenized and packed)."""
    logs = [r for r in _events(home) if r.get("kind") == "log"]
    start = next((r["time"] for r in logs if r.get("message", "").startswith("chat template")), None)
    end = next((r["time"] for r in logs if " train token" in r.get("message", "")), None)
    return end - start if start is not None and end is not None else None


def _newlines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(MIB):
            count += block.count(b"\n")
    return count


def measure(tree: Path, data: Path, max_steps: int, eval_fraction: float, timeout: float) -> Measured:
    """Run ``finetui train`` from ``tree`` on ``data`` in a fresh FINETUI_HOME, sampling VmHWM of it and all its descendants."""
    home = Path(tempfile.mkdtemp(prefix="finetui-mem-home-"))
    env = {**os.environ, "FINETUI_HOME": str(home), "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "tui.cli", "train", str(data), "--max-steps", str(max_steps), "--samples", "0", "--eval-fraction", str(eval_fraction)]
    start = time.perf_counter()
    out = home / "cli.log"
    with out.open("wb") as fh:
        cli = subprocess.Popen(command, cwd=tree, env=env, stdout=fh, stderr=subprocess.STDOUT)
    parent = psutil.Process(cli.pid)
    peaks: dict[int, int] = {}
    workers: set[int] = set()
    training_at = None
    ended = "timeout"
    next_look = 0.0
    to_training = 0
    try:
        while True:
            try:
                kids = parent.children(recursive=True)
            except psutil.NoSuchProcess:
                kids = []
            for proc in [parent, *kids]:
                peaks[proc.pid] = max(peaks.get(proc.pid, 0), _hwm(proc.pid))
                try:
                    if proc.pid not in workers and WORKER in " ".join(proc.cmdline()):
                        workers.add(proc.pid)
                except psutil.Error:
                    pass
            if training_at is None and time.perf_counter() >= next_look:
                next_look = time.perf_counter() + 1.0
                if _phase(home) in ("training", "custom", "saving"):
                    training_at = time.perf_counter() - start
                    to_training = max((peaks.get(pid, 0) for pid in workers), default=0)
            if cli.poll() is not None and not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids):
                ended = "ready" if cli.returncode == 0 else f"exit {cli.returncode}"
                break
            if time.perf_counter() - start > timeout:
                ended = f"stopped after {timeout:.0f} s, in phase {_phase(home)}"
                break
            time.sleep(0.05)
    finally:
        for pid in workers:
            try:
                os.killpg(pid, signal.SIGKILL)  # the worker leads its own process group (a new session)
            except OSError:
                pass
        if cli.poll() is None:
            cli.kill()
        cli.wait()
        tokenize_s = _tokenize_s(home)
        if ended.startswith("exit"):
            print(out.read_text(encoding="utf-8", errors="replace")[-3000:], file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)
    worker_peak = max((peaks.get(pid, 0) for pid in workers), default=0)
    return Measured(worker_peak, to_training or worker_peak, peaks.get(cli.pid, 0), time.perf_counter() - start, training_at, tokenize_s, ended)


def _mib(n: int) -> str:
    return f"{n / MIB:,.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-steps", type=int, default=2, help="training steps per run (default 2)")
    parser.add_argument("--eval-fraction", type=float, default=0.001, help="share of examples held out and scored (default 0.001)")
    parser.add_argument("--baseline", metavar="REF", help="also measure this commit, checked out in a git worktree, and print the ratio")
    parser.add_argument("--only", choices=("oneline", "corpus"), help="measure only one of the two files")
    parser.add_argument("--line-mb", type=float, default=50, help="size of the single-line file in MB (default 50)")
    parser.add_argument("--corpus-mb", type=float, default=200, help="size of the corpus in MB (default 200)")
    parser.add_argument("--timeout", type=float, default=1800, help="stop a run after this many seconds and report its peak so far (default 1800)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="finetui-mem-"))
    try:
        files = []
        if args.only in (None, "oneline"):
            files.append(tmp / "oneline.txt")
            one_line(files[-1], int(args.line_mb * MB))
        if args.only in (None, "corpus"):
            files.append(tmp / "corpus.txt")
            corpus(files[-1], int(args.corpus_mb * MB))
        sides = [("after", REPO)]
        results: dict[tuple[str, Path], Measured] = {}
        with checkout(args.baseline, tmp / "baseline") if args.baseline else _nothing() as old:
            if old is not None:
                sides.insert(0, ("before", old))
            for data in files:
                print(f"{data.name}: {data.stat().st_size / MB:,.1f} MB, {_newlines(data):,} newlines", flush=True)
                for side, tree in sides:
                    m = measure(tree, data, args.max_steps, args.eval_fraction, args.timeout)
                    results[(side, data)] = m
                    until = f"{m.until_training_s:.0f} s" if m.until_training_s is not None else "-"
                    tokenizing = f"{m.tokenize_s:.0f} s" if m.tokenize_s is not None else "-"
                    print(f"  {side:6} worker peak {_mib(m.worker_peak):>10} (until training {_mib(m.worker_peak_to_training):>9})  "
                          f"cli peak {_mib(m.cli_peak):>9}  tokenize+pack {tokenizing:>6} to training {until:>6} wall {m.wall_s:,.0f} s {m.ended}", flush=True)
        print()
        print(f"worker peak RSS (VmHWM), whole run / until training starts (the data read, tokenized and packed, model loaded, baseline scored);"
              f" --max-steps {args.max_steps}, --eval-fraction {args.eval_fraction}")
        print(f"{'file':14} {'size':>9} {'before':>11} {'after':>11} {'ratio':>7}   {'before':>11} {'after':>11} {'ratio':>7}")
        for data in files:
            after = results[("after", data)]
            before = results.get(("before", data))
            cells = []
            for field in ("worker_peak", "worker_peak_to_training"):
                old, new = (getattr(before, field) if before else 0), getattr(after, field)
                cells.append(f"{_mib(old) if before else '-':>11} {_mib(new):>11} {f'{old / new:.1f}x' if before and new else '-':>7}")
            print(f"{data.name:14} {data.stat().st_size / MB:>6,.0f} MB " + "   ".join(cells))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


class _nothing:
    """A context that yields None: no baseline to check out."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
