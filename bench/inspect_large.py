"""Benchmark ``finetui inspect`` on a file of several hundred MB.

Generates a data file (a ``.txt`` with separators and examples of varied
lengths, or a ``.jsonl`` of prompt/completion pairs), then runs the real
command ``finetui inspect FILE --show 3`` in a subprocess and measures:

- the time until the first example is printed (stdout is read until the
  first example header appears),
- the full report's wall time, throughput and the child's peak RSS.

The baseline, measured in the same run on the same file, is a plain Python
``for line in open(FILE, 'rb'): pass`` (and, for reference, ``wc -l``). The
ratios printed are inspect time / baseline time and peak RSS / file size.

    python bench/inspect_large.py                 # ~400 MB .txt in a temp dir, deleted after
    python bench/inspect_large.py --mb 50 --kind jsonl
    python bench/inspect_large.py --out /data/big.txt --keep
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEPARATOR = "--SEPARATOR--"
MIB = 1024 * 1024
#: How the first example's header starts in ``finetui inspect`` output.
EXAMPLE_HEADER = "── #"
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def _pool(rng: random.Random, size: int) -> list[str]:
    """Distinct texts of varied length: mostly short, some long, a few over 2,000 words."""
    vocab = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(5000)]
    pool = []
    for _ in range(size):
        words = int(rng.lognormvariate(4.5, 0.9)) + 3  # median ~90 words, long tail
        lines = []
        while words > 0:
            n = min(words, rng.randint(5, 25))
            lines.append(" ".join(rng.choices(vocab, k=n)) + ".")
            words -= n
        pool.append("\n".join(lines))
    return pool


def generate(path: Path, mb: float, kind: str, seed: int = 0) -> int:
    """Write about ``mb`` MB of distinct examples to ``path``; returns the number of examples."""
    rng = random.Random(seed)
    pool = _pool(rng, 4000)
    target = int(mb * MIB)
    written = count = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        while written < target:
            chunk = []
            for _ in range(2000):
                text = f"Example {count}: {rng.choice(pool)}"
                if kind == "jsonl":
                    cut = text.find("\n") if "\n" in text else len(text) // 2
                    chunk.append(json.dumps({"prompt": text[:cut], "completion": text[cut:]}, ensure_ascii=False) + "\n")
                else:
                    chunk.append(f"{text}\n{SEPARATOR}\n")
                count += 1
            data = "".join(chunk)
            fh.write(data)
            written += len(data.encode("utf-8"))
    return count


def baseline_python(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as fh:
        for _ in fh:
            pass
    return time.perf_counter() - start


def baseline_wc(path: Path) -> float | None:
    if shutil.which("wc") is None:
        return None
    start = time.perf_counter()
    subprocess.run(["wc", "-l", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def inspect_command(path: Path, kind: str) -> list[str]:
    exe = shutil.which("finetui")
    command = [exe] if exe else [sys.executable, "-m", "tui.cli"]
    command += ["inspect", str(path), "--show", "3"]
    if kind == "txt":
        command += ["--separator", SEPARATOR]
    return command


def run_inspect(command: list[str]) -> dict[str, object]:
    """Run the command; time to first example header, total wall time, exit code, peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    assert proc.stdout is not None and proc.stderr is not None
    first = None
    tail: list[str] = []
    for line in proc.stdout:
        if first is None and line.startswith(EXAMPLE_HEADER):
            first = time.perf_counter() - start
        tail = (tail + [line])[-40:]
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    total = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "first": first,
        "total": total,
        "code": proc.returncode,
        "peak_rss": usage.ru_maxrss * 1024,  # Linux reports KiB
        "stderr": stderr,
        "report": "".join(tail),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=400, help="size of the generated file in MiB (default 400)")
    parser.add_argument("--kind", choices=("txt", "jsonl"), default="txt", help="txt with separators (default) or jsonl prompt/completion")
    parser.add_argument("--out", type=Path, help="where to write the file (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args(argv)

    tmp = None
    if args.out is None:
        tmp = Path(tempfile.mkdtemp(prefix="finetui-bench-"))
        path = tmp / f"large.{args.kind}"
    else:
        path = args.out
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        examples = generate(path, args.mb, args.kind)
        size = path.stat().st_size
        mb = size / MIB
        print(f"file      {path}  {mb:,.1f} MiB, {examples:,} examples ({args.kind}); generated in {time.perf_counter() - start:.1f} s")

        base = baseline_python(path)  # also warms the page cache for the runs below
        wc = baseline_wc(path)
        print(f"baseline  python line loop {base:.2f} s ({mb / base:,.0f} MiB/s)" + (f"; wc -l {wc:.2f} s" if wc else ""))

        command = inspect_command(path, args.kind)
        print(f"command   {' '.join(command)}")
        result = run_inspect(command)
        if result["code"] != 0:
            print(f"inspect failed with exit code {result['code']}: {result['stderr'].strip()}", file=sys.stderr)
            return 1
        first, total, rss = result["first"], result["total"], result["peak_rss"]
        print(result["report"].rstrip().split("report for ", 1)[-1].split("\n", 1)[-1])
        print(f"first example printed after {first:.3f} s" if first is not None else "first example: never printed")
        print(f"full report   {total:.1f} s  ({mb / total:,.1f} MiB/s)")
        print(f"peak RSS      {rss / MIB:,.1f} MiB")
        print(f"ratio  inspect / python line loop = {total / base:.1f}x" + (f";  inspect / wc -l = {total / wc:.0f}x" if wc else ""))
        print(f"ratio  peak RSS / file size = {rss / size:.3f}")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
