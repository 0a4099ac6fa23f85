"""Generation speed: finetui's playground path against plain ``model.generate``, same model and settings.

Both generate greedily from the same prompt, the same number of new tokens,
with the same loaded model object, in this process, alternating, several
times. finetui's path is the server's request handler (``Server.handle``)
with its streamer, stop/cancel check and one JSON line per token written to
/dev/null: everything but the pipe. With ``--client`` it is also timed
through the real process (``InferenceClient``), pipe included, from sending
the request to reading its ``end``.

Each run is timed twice: wall clock, and CPU seconds of the process doing the
work. On a machine shared with other jobs the wall clock swings with their
load; the CPU time counts only this work, so its ratio is the steadier one
(steadiest with ``--threads 1``, where no idle thread spins).

    python bench/generate.py [--model finetui-tiny | --run RUN] [--max-tokens 128] [--repeats 7] [--threads N] [--client]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. The"

#: One timed generation: wall seconds, CPU seconds, text, new tokens.
Timed = tuple[float, float, str, int]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="finetui-tiny", help="base model, served as the baseline (default: %(default)s)")
    p.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    p.add_argument("--run", help="serve this run's custom model (adapter on) instead of a base model")
    p.add_argument("--prompt", default=PROMPT)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, help="torch threads, here and in the process (default: torch's own)")
    p.add_argument("--client", action="store_true", help="also time the request through the inference process")
    args = p.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read by the process's torch when it starts

    import torch

    from engine.infer.server import Server, line_writer, quiet_libraries
    from engine.infer.session import InferenceSession

    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_libraries(warnings=False)
    session = InferenceSession()
    if args.run:
        run = session.attach(args.run)
        which, model_name = "custom", f"run {run.id} on {session.base.describe()}"
    else:
        run = None
        session.load_base(args.model, args.quant)
        which, model_name = "baseline", session.base.describe()
    server = Server(session)
    sink = line_writer(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    request = {"id": 1, "type": "generate", "prompt": args.prompt, "max_tokens": args.max_tokens, "temperature": 0, "models": [which]}
    if run is not None:
        request["run"] = run.id
    ids = session.encode_prompt(args.prompt)
    input_ids = torch.tensor([ids], device=session.model.device)

    def finetui() -> Timed:
        done: dict = {}

        def emit(event: dict) -> None:
            sink(event)
            if event["event"] == "done":
                done.update(event)

        wall, cpu = time.perf_counter(), time.process_time()
        server.handle(request, emit)
        return time.perf_counter() - wall, time.process_time() - cpu, done["text"], done["tokens"]

    def plain() -> Timed:
        with session.serving(which, run) as model:
            wall, cpu = time.perf_counter(), time.process_time()
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=args.max_tokens,
                                 do_sample=False, pad_token_id=session.tokenizer.pad_token_id)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        new = out[0, len(ids) :].tolist()
        tokens = len(new) - (1 if new and new[-1] in session._eos_ids() else 0)
        return wall, cpu, session.tokenizer.decode(new, skip_special_tokens=True), tokens

    paths: dict[str, Callable[[], Timed]] = {"finetui": finetui, "plain": plain}
    client = None
    if args.client:
        client, paths["process"] = start_client(args, request)
    for fn in paths.values():  # warm-up
        fn()
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    outputs: dict[str, tuple[str, int]] = {}
    names = list(paths)
    for i in range(args.repeats):
        # Alternate the order, so that neither path always runs first after a pause.
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu, text, tokens = paths[name]()
            walls[name].append(wall)
            cpus[name].append(cpu)
            outputs[name] = (text, tokens)
    if client is not None:
        client.close()
    tokens = outputs["plain"][1]
    same = all(out == outputs["plain"] for out in outputs.values())

    def rate(times: list[float]) -> float:
        return tokens / statistics.median(times)

    def pair_ratio(values: dict[str, list[float]], name: str) -> float:
        # The ratio of each back-to-back pair, then the median: steadier than a ratio of medians.
        return statistics.median(p / f for f, p in zip(values[name], values["plain"]))

    print(f"model: {model_name} on {session.model.device}, torch threads {torch.get_num_threads()}")
    print(f"greedy, {len(ids)} prompt tokens, {tokens} new tokens, median of {args.repeats} alternating runs")
    print(f"  {'tokens/s':<29}{'wall clock':>12}{'CPU time':>12}")
    labels = {"plain": "plain model.generate", "finetui": "finetui Server.handle", "process": "finetui through the process"}
    for name in paths:
        print(f"  {labels[name]:<29}{rate(walls[name]):12.1f}{rate(cpus[name]):12.1f}")
    for name in paths:
        if name != "plain":
            print(f"  ratio {name} / plain{'':<{16 - len(name)}}{pair_ratio(walls, name):11.3f}x{pair_ratio(cpus, name):11.3f}x")
    print(f"  finetui's own work per token: {per_token_overhead_us(session):.1f} us (decode, stop check, JSON line)")
    print(f"  same output as plain: {'yes' if same else 'NO'}")
    return 0 if same else 1


def per_token_overhead_us(session) -> float:
    """What finetui adds per token, timed alone: the tracker's decoding and stop check, the hooks, one JSON line."""
    import threading

    import torch

    from engine.infer.hooks import make_hooks
    from engine.infer.server import line_writer
    from engine.infer.text import TextTracker

    sink = line_writer(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    ids = session.encode_prompt(PROMPT * 4)[:129]
    best = float("inf")
    for _ in range(10):
        tracker = TextTracker(session._decode, ids[:1], ["\n\n"])
        streamer, criterion = make_hooks(tracker, 1, lambda text: sink({"id": 1, "event": "token", "model": "baseline", "text": text}), threading.Event())
        full = torch.tensor([ids])
        streamer.put(full[:, :1])
        started = time.perf_counter()
        for i in range(1, len(ids)):
            criterion(full[:, : i + 1], None)
            streamer.put(full[0, i : i + 1])
        streamer.end()
        best = min(best, time.perf_counter() - started)
    return best / (len(ids) - 1) * 1e6


def start_client(args: argparse.Namespace, request: dict):
    """The inference process, and a function timing one request through it (CPU time: the process's)."""
    import psutil

    from engine.infer.client import InferenceClient

    client = InferenceClient(runs=[args.run] if args.run else (), model=None if args.run else args.model, quant=args.quant)
    client.wait_ready(timeout=600)
    process = psutil.Process(client.pid)
    fields = {k: v for k, v in request.items() if k not in ("id", "type")}

    def cpu_seconds() -> float:
        times = process.cpu_times()
        return times.user + times.system

    def through_process() -> Timed:
        wall, cpu = time.perf_counter(), cpu_seconds()
        events = list(client.request("generate", **fields))
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        done = next(e for e in events if e["event"] == "done")
        return wall, cpu, done["text"], done["tokens"]

    return client, through_process


if __name__ == "__main__":
    sys.exit(main())
