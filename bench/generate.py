"""Generation speed: finetui's playground path against plain ``model.generate``, same model and settings.

Both generate greedily from the same prompt, the same number of new tokens,
with the same loaded model object, in this process, alternating, several
times; the median of each is reported. finetui's path is the server's request
handler (``Server.handle``) with its streamer, stop/cancel check and one JSON
line per token written to /dev/null: everything but the pipe. With
``--client`` it is also timed through the real process (``InferenceClient``),
pipe included, from sending the request to reading its ``end``.

    python bench/generate.py [--model finetui-tiny | --run RUN] [--max-tokens 128] [--repeats 5] [--client]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. The"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="finetui-tiny", help="base model, served as the baseline (default: %(default)s)")
    p.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    p.add_argument("--run", help="serve this run's custom model (adapter on) instead of a base model")
    p.add_argument("--prompt", default=PROMPT)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--client", action="store_true", help="also time the request through the inference process")
    args = p.parse_args()

    import torch

    from engine.infer.server import Server, line_writer, quiet_libraries
    from engine.infer.session import InferenceSession

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

    def finetui() -> tuple[float, str, int]:
        done = {}

        def emit(event):
            sink(event)
            if event["event"] == "done":
                done.update(event)

        started = time.perf_counter()
        server.handle(request, emit)
        return time.perf_counter() - started, done["text"], done["tokens"]

    def plain() -> tuple[float, str, int]:
        with session.serving(which, run) as model:
            started = time.perf_counter()
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=args.max_tokens,
                                 do_sample=False, pad_token_id=session.tokenizer.pad_token_id)
            seconds = time.perf_counter() - started
        new = out[0, len(ids):].tolist()
        eos = session._eos_ids()
        tokens = len(new) - (1 if new and new[-1] in eos else 0)
        return seconds, session.tokenizer.decode(new, skip_special_tokens=True), tokens

    paths = {"finetui": finetui, "plain": plain}
    client = start_client(args, request) if args.client else None
    if client is not None:
        paths["process"] = client
    for fn in paths.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in paths}
    outputs: dict[str, tuple[str, int]] = {}
    names = list(paths)
    for i in range(args.repeats):
        # Alternate the order, so that neither path always runs first after a pause.
        for name in names if i % 2 == 0 else names[::-1]:
            seconds, text, tokens = paths[name]()
            times[name].append(seconds)
            outputs[name] = (text, tokens)
    if client is not None:
        client.close_client()
    tokens = outputs["plain"][1]
    same = all(out == outputs["plain"] for out in outputs.values())
    median = {name: statistics.median(ts) for name, ts in times.items()}
    # The ratio of each back-to-back pair, then the median: steadier than a ratio of medians on a shared machine.
    pair_ratio = statistics.median(p / f for f, p in zip(times["finetui"], times["plain"]))

    print(f"model: {model_name} on {session.model.device}, torch threads {torch.get_num_threads()}")
    print(f"greedy, {len(ids)} prompt tokens, {tokens} new tokens, median of {args.repeats} alternating runs")
    print(f"  plain model.generate       {tokens / median['plain']:8.1f} tokens/s  ({median['plain']:.3f} s)")
    print(f"  finetui Server.handle      {tokens / median['finetui']:8.1f} tokens/s  ({median['finetui']:.3f} s)")
    if "process" in median:
        print(f"  finetui through process    {tokens / median['process']:8.1f} tokens/s  ({median['process']:.3f} s, pipe and JSON parsing included)")
    print(f"  ratio finetui / plain      {pair_ratio:8.3f}x  (median of back-to-back pairs)")
    print(f"  finetui's own work         {per_token_overhead_us(session):8.1f} us per token (decode, stop check, JSON line)")
    print(f"  same output as plain:      {'yes' if same else 'NO'}")
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
    """A generate request through the real inference process, timed from sending it to reading its ``end``."""
    from engine.infer.client import InferenceClient

    client = InferenceClient(runs=[args.run] if args.run else (), model=None if args.run else args.model, quant=args.quant)
    client.wait_ready(timeout=600)
    fields = {k: v for k, v in request.items() if k not in ("id", "type")}

    def through_process() -> tuple[float, str, int]:
        started = time.perf_counter()
        events = list(client.request("generate", **fields))
        seconds = time.perf_counter() - started
        done = next(e for e in events if e["event"] == "done")
        return seconds, done["text"], done["tokens"]

    through_process.close_client = client.close  # type: ignore[attr-defined]
    return through_process


if __name__ == "__main__":
    sys.exit(main())
