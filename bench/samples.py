"""The samples written after training: several eval examples per ``generate`` call against one per call.

After a run trains, both models complete the first ``--samples`` eval
examples (``engine.train.samples``). Each example is two rows, the adapter
off for the baseline's (peft's ``adapter_names``). This compares the batch
size the worker uses (``SAMPLE_BATCH`` examples to a call, left-padded)
with one example per call, which is what the worker did before, on the
same model object, alternating, several times, and prints the ratio of
wall times. It also says how many completions are identical, and where
any other first differs: a batch's padding and size change float rounding
(bitsandbytes' 4-bit layers dequantize per call), which can flip a greedy
near-tie. The losses on the references must agree to 1e-3.

The model is the bundled one in 4-bit, as a default run loads it, with a
fresh LoRA adapter whose B matrices are random (a fresh one changes
nothing); the examples are the first eval examples of a sample file.

    python bench/samples.py [--data sample_data/haiku.txt --separator=--SEPARATOR--] [--samples 24] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="sample_data/haiku.txt")
    p.add_argument("--separator", default="--SEPARATOR--", help="the data file's separator ('' for none)")
    p.add_argument("--model", default="finetui-tiny")
    p.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    p.add_argument("--samples", type=int, default=24, help="eval examples to complete (a run's default is 32)")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = p.parse_args()

    import torch
    from generate import random_lora

    from engine.data import DataSpec, split_examples
    from engine.infer.server import quiet_libraries
    from engine.models import load_model
    from engine.models.families import lora_targets
    from engine.train import samples

    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_libraries(warnings=False)
    _, held_out = split_examples(DataSpec(args.data, separator=args.separator or None))
    examples = held_out[: args.samples]
    loaded = load_model(args.model, quant=args.quant, device="cpu")
    model = random_lora(loaded.model, lora_targets(loaded.model))
    batched = samples.SAMPLE_BATCH

    def timed(batch: int) -> tuple[float, list[samples.Sample]]:
        samples.SAMPLE_BATCH = batch
        start = time.perf_counter()
        done = samples.generate_samples(model, loaded.tokenizer, examples, args.seq_len)
        return time.perf_counter() - start, sorted(done, key=lambda s: s.index)

    sides = {"one": 1, "batch": batched}
    for batch in sides.values():  # warm-up
        timed(batch)
    walls: dict[str, list[float]] = {name: [] for name in sides}
    texts: dict[str, list[samples.Sample]] = {}
    for i in range(args.repeats):
        for name in list(sides) if i % 2 == 0 else list(sides)[::-1]:
            wall, texts[name] = timed(sides[name])
            walls[name].append(wall)

    print(f"model: {args.model} ({args.quant}) with a random LoRA adapter, cpu, torch threads {torch.get_num_threads()}")
    print(f"data: the first {len(examples)} eval examples of {args.data}; median of {args.repeats} alternating runs")
    print(f"  {'samples, both models':<40}{'wall s':>9}")
    print(f"  {'one example per generate call':<40}{statistics.median(walls['one']):9.3f}")
    print(f"  {f'{batched} examples per call (finetui)':<40}{statistics.median(walls['batch']):9.3f}")
    ratio = statistics.median(b / o for b, o in zip(walls["batch"], walls["one"], strict=True))
    print(f"  ratio batch / one: wall {ratio:.3f}x")
    pairs = list(zip(texts["batch"], texts["one"], strict=True))
    differ = [(a, b) for a, b in pairs if (a.baseline, a.custom) != (b.baseline, b.custom)]
    print(f"  completions: {len(pairs) - len(differ)} of {len(pairs)} identical (greedy, both models)")
    for a, b in differ:
        which = "baseline" if a.baseline != b.baseline else "custom"
        x, y = getattr(a, which), getattr(b, which)
        at = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
        print(f"    example {a.index}, {which}: the same for {at} of {max(len(x), len(y))} characters, then {x[at:at + 24]!r} / {y[at:at + 24]!r}")
    both = [(a.baseline_loss, b.baseline_loss) for a, b in pairs] + [(a.custom_loss, b.custom_loss) for a, b in pairs]
    losses = max(abs(u - v) for u, v in both if u is not None and v is not None)
    print(f"  losses on the references: largest difference {losses:.2e} (padding and batch size change float rounding only)")
    return 0 if losses < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
