"""Side by side: the playground's one batch (baseline and custom rows) against two plain ``model.generate`` calls.

The playground generates the baseline (adapters off) and a run's custom model
(its adapter on) as two rows of one batch, with peft's mixed-adapter batches,
streaming both. The baseline it is measured against is what it replaced: a
plain greedy ``model.generate`` with the adapter off, then another with it
on, one after the other. Both sides generate the same tokens from the same
prompt with the same loaded model object, in this process, alternating,
several times. The playground side is the server's request handler
(``Server.handle``) with its streamer, stop/cancel check and one JSON line
per token written to /dev/null: everything but the pipe.

It prints the ratio of wall times (side by side / one after the other; the
goal is at most 0.6) and of CPU seconds, and checks that each model's greedy
text from the batch is the plain call's, token for token.

Without ``--run``, the custom model is the bundled model with a fresh LoRA
adapter whose B matrices are random (a fresh one changes nothing), in a
temporary run store: the speed does not depend on what the adapter learnt.
With ``--run RUN``, a trained run is used. ``--shape NAME`` swaps the
bundled model for a random-init model with the layer shapes of a real one
(``SHAPES``; the bundled tokenizer and vocabulary), written to a temporary
folder: on the 8.9M bundled model each layer's cost is mostly per-call
overhead, and a bigger model shows the batch where the weights' work
dominates, as on any model people fine-tune.

    python bench/generate.py [--run RUN] [--shape qwen2.5-0.5b] [--max-tokens 128] [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. The"

#: Layer shapes of real models (their config.json), for ``--shape``: Llama-architecture, random weights.
SHAPES = {
    "smollm2-135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3},
    "qwen2.5-0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2},
}

#: One timed generation of both models: wall seconds, CPU seconds, {model: (text, new tokens)}.
Timed = tuple[float, float, dict[str, tuple[str, int]]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a ready run to serve as the custom model (default: a random adapter on the bundled model)")
    p.add_argument("--model", default="finetui-tiny", help="base model for the random adapter (default: %(default)s)")
    p.add_argument("--shape", choices=sorted(SHAPES), help="a random-init model with these layer shapes instead of --model")
    p.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    p.add_argument("--prompt", default=PROMPT)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = p.parse_args()

    import torch

    from engine.infer.protocol import Done, Reply
    from engine.infer.server import Server, line_writer, quiet_libraries
    from engine.infer.session import InferenceSession

    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_libraries(warnings=False)
    tmp = None
    if args.run:
        ref = args.run
        session = InferenceSession()
    else:
        tmp = tempfile.TemporaryDirectory(prefix="finetui-bench-")
        model = shaped_model(Path(tmp.name) / args.shape, SHAPES[args.shape]) if args.shape else args.model
        store, ref = random_adapter_run(Path(tmp.name), model, args.quant)
        session = InferenceSession(store)
    run = session.attach(ref)
    server = Server(session)
    sink = line_writer(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    request = {"id": 1, "type": "generate", "prompt": args.prompt, "run": run.id, "max_tokens": args.max_tokens, "temperature": 0}
    ids = session.encode_prompt(args.prompt)
    input_ids = torch.tensor([ids], device=session.model.device)
    eos = session._eos_ids()

    def side_by_side() -> Timed:
        done: dict[str, tuple[str, int]] = {}

        def emit(reply: Reply) -> None:
            sink(reply)
            if isinstance(reply, Done):
                done[reply.model] = (reply.text, reply.tokens)

        wall, cpu = time.perf_counter(), time.process_time()
        server.handle(request, emit)
        return time.perf_counter() - wall, time.process_time() - cpu, done

    def one_after_the_other() -> Timed:
        done: dict[str, tuple[str, int]] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        for which in ("baseline", "custom"):
            with session.serving(which, run) as model:
                out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=args.max_tokens,
                                     do_sample=False, pad_token_id=session.tokenizer.pad_token_id)
            new = out[0, len(ids) :].tolist()
            done[which] = (session.tokenizer.decode(new, skip_special_tokens=True), len(new) - (1 if new and new[-1] in eos else 0))
        return time.perf_counter() - wall, time.process_time() - cpu, done

    paths: dict[str, Callable[[], Timed]] = {"batch": side_by_side, "plain": one_after_the_other}
    for fn in paths.values():  # warm-up
        fn()
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    outputs: dict[str, dict[str, tuple[str, int]]] = {}
    names = list(paths)
    for i in range(args.repeats):
        # Alternate the order, so that neither side always runs first after a pause.
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu, done = paths[name]()
            walls[name].append(wall)
            cpus[name].append(cpu)
            outputs[name] = done
    same = outputs["batch"] == outputs["plain"]
    tokens = sum(n for _, n in outputs["plain"].values())

    def pair_ratio(values: dict[str, list[float]]) -> float:
        # The ratio of each back-to-back pair, then the median: steadier than a ratio of medians.
        return statistics.median(b / p for b, p in zip(values["batch"], values["plain"], strict=True))

    shaped = f" (random-init, {args.shape}'s layer shapes)" if args.shape and not args.run else ""
    print(f"model: run {run.id} on {session.base.describe()}{shaped} on {session.model.device}, torch threads {torch.get_num_threads()}")
    print(f"greedy, {len(ids)} prompt tokens, new tokens: "
          + ", ".join(f"{m} {n}" for m, (_, n) in outputs["plain"].items()) + f"; median of {args.repeats} alternating runs")
    print(f"  {'both models':<36}{'wall s':>9}{'CPU s':>9}{'tokens/s':>10}")
    labels = {"plain": "two plain model.generate, in turn", "batch": "one batch, both streaming (finetui)"}
    for name in ("plain", "batch"):
        wall = statistics.median(walls[name])
        print(f"  {labels[name]:<36}{wall:9.3f}{statistics.median(cpus[name]):9.3f}{tokens / wall:10.1f}")
    ratio = pair_ratio(walls)
    print(f"  ratio batch / plain: wall {ratio:.3f}x (goal <= 0.6), CPU {pair_ratio(cpus):.3f}x")
    for model in ("baseline", "custom"):
        verdict = "identical" if outputs["batch"][model] == outputs["plain"][model] else "DIFFERENT"
        print(f"  greedy {model}: {verdict} to the plain call ({outputs['plain'][model][1]} tokens)")
    print(two_rows_cost(session.model))
    if tmp is not None:
        tmp.cleanup()
    return 0 if same else 1


def two_rows_cost(model) -> str:
    """What two rows cost against one in the model's largest linear layer, at its dtype, on its device.

    The batch saves time only where a layer's cost for two rows is about its
    cost for one (memory-bound matrix-vector work, as on a GPU). Some CPU
    BLAS builds take a slower path for two rows than for one (MKL's sgemm
    against its sgemv, on AMD CPUs): then the layers cost twice, batched or
    not, and the batch saves only the per-step overhead.
    """
    import torch

    layer = max((m for m in model.modules() if isinstance(m, torch.nn.Linear)), key=lambda m: m.in_features * m.out_features)
    dtype = layer.weight.dtype if layer.weight.dtype.is_floating_point else torch.float32  # 4-bit layers compute in float
    weight = torch.randn(layer.out_features, layer.in_features, dtype=dtype, device=layer.weight.device)

    def seconds(rows: int) -> float:
        x = torch.randn(rows, weight.shape[1], dtype=weight.dtype, device=weight.device)
        times = []
        with torch.inference_mode():
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(200):
                    torch.nn.functional.linear(x, weight)
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    one, two = seconds(1), seconds(2)
    return (f"  this machine's matmul ({weight.shape[0]}x{weight.shape[1]}, {str(weight.dtype).removeprefix('torch.')}): two rows cost "
            f"{two / one:.2f}x one row (1.00x would let the batch halve the layers' time)")


def shaped_model(folder: Path, shape: dict[str, int]) -> str:
    """A random-init Llama model with ``shape``'s layers and the bundled tokenizer, saved in ``folder``."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.paths import SAMPLE_DATA

    bundled = SAMPLE_DATA / "models" / "finetui-tiny"
    base = LlamaConfig.from_pretrained(bundled)
    config = LlamaConfig(**{**base.to_dict(), **shape, "head_dim": shape["hidden_size"] // shape["num_attention_heads"]})
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(bundled / name, folder / name)
    return str(folder)


def random_lora(model, targets):
    """``model`` with a LoRA adapter (r 16) on ``targets`` whose B matrices are random (seed 0): a fresh one changes nothing."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    return peft_model


def random_adapter_run(root: Path, model: str, quant: str):
    """A run store holding one ready run of ``model`` whose adapter has random, non-zero B matrices."""
    from engine.config import DataConfig, ModelConfig, RunConfig
    from engine.models import load_model
    from engine.runs import RunStore

    store = RunStore(root / "runs")
    run = store.create(RunConfig("bench", DataConfig(str(root / "none.txt")), ModelConfig(model, quant=quant)))
    loaded = load_model(model, quant="none", device="cpu")
    random_lora(loaded.model, "all-linear").save_pretrained(str(run.adapter_dir))
    run.write_status(run.status().moved("ready"))
    return store, run.id


if __name__ == "__main__":
    sys.exit(main())
