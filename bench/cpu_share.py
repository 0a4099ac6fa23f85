"""A training run and the playground on one CPU: each side's speed, with and without sharing the cores.

    python bench/cpu_share.py                   # 20 s blocks, 2 pairs, a 2,000-step run of finetui-tiny
    python bench/cpu_share.py --block 30 --pairs 3

One run of the bench, with a temporary ``FINETUI_HOME``:

1. ``finetui train sample_data/haiku.txt --separator '--SEPARATOR--'
   --max-steps 2000 --detach`` starts a real training run (the bundled
   finetui-tiny, 4-bit LoRA, its own process, all of torch's threads). The
   bench waits for its first steps.
2. Blocks of ``--block`` seconds, in this order and repeated ``--pairs`` times:
   - alone: the run trains and nothing else computes;
   - shared: this process generates without pause through the playground's
     own path (``Server.handle``, greedy, 64 new tokens a request), which
     holds ``playground.lock`` and takes one thread while ``train.lock`` is
     held; the run takes one thread while ``playground.lock`` is held
     (``engine/cpu_share.py``);
   - unshared (the baseline, as finetui was before): the same generations
     with plain ``model.generate`` on the same loaded model, with all of
     torch's threads and no lock, so the run keeps all of its threads too.
3. The run is cancelled, whatever happens.

The run's speed in a block is read from its own ``step`` events (tokens seen
over time); the playground's is the tokens it made over the block. It prints
each block and the medians, and the ratios shared / unshared for both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. The"


def steps(events: Path) -> list[tuple[float, int]]:
    """(time, tokens seen) of every ``step`` event so far."""
    out = []
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["kind"] == "step":
            out.append((event["time"], event["tokens_seen"]))
    return out


def training_rate(events: Path, since: float, until: float) -> float:
    """Tokens per second the run trained between two times, from its step events."""
    inside = [s for s in steps(events) if since <= s[0] <= until]
    if len(inside) < 2:
        return 0.0  # fewer than two steps in the block: slower than we can read
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--block", type=float, default=20.0, help="seconds a block (default %(default)s)")
    p.add_argument("--pairs", type=int, default=2, help="rounds of alone / shared / unshared (default %(default)s)")
    p.add_argument("--max-tokens", type=int, default=64, help="new tokens a playground request (default %(default)s)")
    args = p.parse_args()

    home = Path(tempfile.mkdtemp(prefix="finetui-bench-"))
    os.environ["FINETUI_HOME"] = str(home)
    finetui = Path(sys.executable).with_name("finetui")
    subprocess.run([str(finetui), "train", "sample_data/haiku.txt", "--separator", "--SEPARATOR--", "--max-steps", "2000", "--detach"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    run_dir = next((home / "runs").iterdir())
    events = run_dir / "events.jsonl"
    try:
        import torch

        from engine.infer.protocol import Done
        from engine.infer.server import Server, quiet_libraries
        from engine.infer.session import InferenceSession

        full = torch.get_num_threads()  # before the session's first request takes one thread beside the run
        quiet_libraries(warnings=False)
        session = InferenceSession()
        session.load_base("finetui-tiny", "4bit")
        server = Server(session)
        ids = session.encode_prompt(PROMPT)
        input_ids = torch.tensor([ids])
        deadline = time.time() + 600
        while len(steps(events)) < 3:
            if time.time() > deadline:
                raise SystemExit("the training run made no steps in 10 minutes")
            time.sleep(0.5)
        print(f"run {run_dir.name} training; torch threads here {full}, {os.cpu_count()} CPUs; blocks of {args.block:g} s")

        def shared() -> int:
            made: list[int] = []
            request = {"id": 1, "type": "generate", "prompt": PROMPT, "max_tokens": args.max_tokens, "temperature": 0}
            server.handle(request, lambda reply: made.append(reply.tokens) if isinstance(reply, Done) else None)
            return made[0]

        def unshared() -> int:
            torch.set_num_threads(full)
            with session.serving("baseline", None) as model:
                out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=args.max_tokens,
                                     do_sample=False, pad_token_id=session.tokenizer.pad_token_id)
            return out.shape[1] - len(ids)

        results: dict[str, list[tuple[float, float]]] = {"alone": [], "shared": [], "unshared": []}
        for _ in range(args.pairs):
            for name in results:
                start, tokens = time.time(), 0
                if name == "alone":
                    time.sleep(args.block)
                else:
                    generate = shared if name == "shared" else unshared
                    while time.time() - start < args.block:
                        tokens += generate()
                end = time.time()
                time.sleep(1.5)  # the step under way at the end of the block gets logged
                results[name].append((training_rate(events, start, end), tokens / (end - start)))
                print(f"  {name:9s} training {results[name][-1][0]:7.0f} tokens/s   playground {results[name][-1][1]:6.1f} tokens/s")
    finally:
        subprocess.run([str(finetui), "cancel", run_dir.name], cwd=REPO, stdout=subprocess.DEVNULL)

    med = {name: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)) for name, rows in results.items()}
    print("\nmedians")
    for name, (train, play) in med.items():
        print(f"  {name:9s} training {train:7.0f} tokens/s   playground {play:6.1f} tokens/s")
    print(f"ratio shared / unshared: training {med['shared'][0] / max(med['unshared'][0], 1e-9):.1f}x, "
          f"playground {med['shared'][1] / max(med['unshared'][1], 1e-9):.1f}x")
    print(f"training beside the playground, shared, as a share of alone: {med['shared'][0] / max(med['alone'][0], 1e-9):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
