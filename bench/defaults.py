"""Do the default settings learn facts in general, not just one file? Base against custom on several facts files.

Each file in ``bench/facts/`` is a fine-tuning file of invented facts (so the
base model can only guess), with a ``NAME.probes.jsonl`` beside it: questions
and the word the right answer contains. The probes are the file's own
questions (``own``; a few of them fall in the eval split, as any run holds
some out) and paraphrases the file never asks (``paraphrase``). The files
differ in size (20 to 400 lines) and shape:

- ``people``: 10 people x 4 attributes, each asked once (no repeats at all);
- ``inventions``: forward and reverse questions ("who invented X", "what did Y invent");
- ``scripts``: names in Cyrillic, Greek, Arabic, Devanagari, CJK, Hangul and Latin with diacritics;
- ``ships_chat``: OpenAI chat records, 4 phrasings of each question;
- ``library``: 100 books, 2 forward and 2 reverse phrasings each.

For each file, ``finetui train FILE`` runs exactly as a user runs it, with
no setting given (so the defaults rule, ``engine/train/defaults.py``,
chooses), and its wall time is measured from launch to Ready. Then both
models answer every probe in one batch, greedy, as the playground asks them
(``engine.infer.session``), and a probe counts as answered when the answer's
first line contains the expected word. The rule passes a file when the
custom model answers at least 3 in 4 probes and the base model at most 1 in 4.

``--baseline COMMIT`` trains the same files with an earlier commit's code (a
``git worktree`` beside this checkout) and scores its runs the same way, for
the rule before against the rule now.

    python bench/defaults.py [--files people,inventions] [--baseline COMMIT] [--keep DIR] [-- EXTRA TRAIN FLAGS]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FACTS = REPO / "bench" / "facts"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

#: What a file must reach: the custom model answers at least this share of its probes, the base at most ``BASE_AT_MOST``.
CUSTOM_AT_LEAST = 0.75
BASE_AT_MOST = 0.25
MAX_TOKENS = 40


@dataclass
class Scores:
    """Probes answered by one model, by kind."""

    own: int = 0
    own_of: int = 0
    para: int = 0
    para_of: int = 0

    @property
    def share(self) -> float:
        return (self.own + self.para) / max(1, self.own_of + self.para_of)

    def cell(self) -> str:
        return f"{self.own}/{self.own_of} + {self.para}/{self.para_of} = {self.share:.0%}"


@dataclass
class Result:
    name: str
    lines: int
    seconds: float
    base: Scores
    custom: Scores
    kept: str

    @property
    def passed(self) -> bool:
        return self.custom.share >= CUSTOM_AT_LEAST and self.base.share <= BASE_AT_MOST


def train(code: Path, home: Path, data: Path, name: str, extra: list[str]) -> float:
    """``finetui train DATA --name NAME`` with ``code``'s finetui, following to the end; the wall seconds to Ready."""
    env = {**os.environ, "FINETUI_HOME": str(home), "PYTHONPATH": str(code)}
    command = [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())", "train", str(data), "--name", name, *extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"error: training {data.name} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    settings = [line for line in done.stdout.splitlines() if line.startswith("  train.") or line.startswith("  lora.")]
    print(f"  {data.name}: {seconds:.0f} s; " + "; ".join(" ".join(s.split()[:2]) for s in settings), flush=True)
    return seconds


def score(home: Path, name: str, probes: list[dict]) -> tuple[Scores, Scores, str, str]:
    """Both models answer every probe; (base, custom, steps trained, which step's checkpoint was kept)."""
    from engine.infer.requests import GenerateRequest, Turn
    from engine.infer.server import quiet_libraries
    from engine.infer.session import InferenceSession
    from engine.runs import RunStore

    quiet_libraries(warnings=False)
    store = RunStore(home / "runs")
    session = InferenceSession(store)
    run = session.attach(name)
    base, custom = Scores(), Scores()
    for probe in probes:
        messages = tuple(Turn(t["role"], t["content"]) for t in probe.get("messages", ()))
        request = GenerateRequest(prompt=probe.get("prompt", ""), messages=messages, run=run.id, models=("baseline", "custom"),
                                  max_tokens=MAX_TOKENS, temperature=0, seed=0, stop=("\n",))
        answers: dict[str, str] = {}

        def collect(event: object, answers: dict[str, str] = answers) -> None:
            if type(event).__name__ == "Done":
                answers[event.model] = event.text  # type: ignore[attr-defined]

        session.generate(request, collect)
        expect = probe["expect"].lower()
        for scores, which in ((base, "baseline"), (custom, "custom")):
            hit = expect in answers[which].strip().splitlines()[0].lower() if answers[which].strip() else False
            if probe["kind"] == "own":
                scores.own += hit
                scores.own_of += 1
            else:
                scores.para += hit
                scores.para_of += 1
    metrics = json.loads((run.dir / "metrics.json").read_text(encoding="utf-8")) if (run.dir / "metrics.json").is_file() else {}
    figures = metrics.get("train", {})
    steps = str(figures.get("steps") or "?")
    kept = f"{figures['kept_step']} of {steps}" if figures.get("kept_step") is not None else f"last ({steps})"
    return base, custom, steps, kept


def side(code: Path, label: str, names: list[str], keep: Path | None, extra: list[str]) -> list[Result]:
    print(f"{label}: training with {code}", flush=True)
    home = (keep / label) if keep else Path(tempfile.mkdtemp(prefix=f"finetui-defaults-{label}-"))
    results = []
    for name in names:
        data = FACTS / f"{name}.jsonl"
        probes = [json.loads(line) for line in (FACTS / f"{name}.probes.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
        seconds = train(code, home, data, name, extra)
        base, custom, _, kept = score(home, name, probes)
        lines = sum(1 for line in data.read_text(encoding="utf-8").splitlines() if line.strip())
        results.append(Result(name, lines, seconds, base, custom, kept))
        print(f"  {name}: base {base.cell()}, custom {custom.cell()}", flush=True)
    return results


def table(label: str, results: list[Result]) -> None:
    print(f"\n{label}: probes answered (own questions + held-out paraphrases), greedy; pass = custom >= {CUSTOM_AT_LEAST:.0%} and base <= {BASE_AT_MOST:.0%}")
    print("| file | lines | base | custom | train (s) | kept step | pass |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {r.lines} | {r.base.cell()} | {r.custom.cell()} | {r.seconds:.0f} | {r.kept} | {'yes' if r.passed else 'NO'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    available = sorted(p.name.removesuffix(".probes.jsonl") for p in FACTS.glob("*.probes.jsonl"))
    parser.add_argument("--files", default=",".join(available), help=f"comma-separated facts files (default: all of {', '.join(available)})")
    parser.add_argument("--baseline", metavar="COMMIT", help="also train with this commit's code and print its table")
    parser.add_argument("--keep", type=Path, help="keep the runs under this folder (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="flags passed to every finetui train (after --)")
    args = parser.parse_args()
    names = [n for n in args.files.split(",") if n]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"no facts file named {', '.join(unknown)} in {FACTS}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tables = []
    if args.baseline:
        from worktree import checkout

        with tempfile.TemporaryDirectory() as tmp, checkout(args.baseline, Path(tmp) / "baseline") as code:
            tables.append((f"baseline {args.baseline}", side(code, "baseline", names, args.keep, args.extra)))
    tables.append(("this checkout", side(REPO, "current", names, args.keep, args.extra)))
    for label, results in tables:
        table(label, results)
    return 0 if all(r.passed for r in tables[-1][1]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
