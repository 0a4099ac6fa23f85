"""What every rank of a run asks while it trains: which rank it is, how the ranks share the model, and when they stop.

Outside a distributed run (one process) each answer is the one-process one:
rank 0 of 1, the ``single`` strategy, the stop event alone. The launcher
that starts the ranks is ``engine.train.distributed``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from engine.config import RunConfig
from engine.runs.store import DISTRIBUTED_ENV

#: Set by the worker for its ranks: the strategy it chose, so every rank uses the same one.
STRATEGY_ENV = "FINETUI_STRATEGY"
#: Why FSDP can't run over gloo on CPUs: accelerate 1.x's ``AcceleratorState`` turns an FSDP plugin on only for
#: GPU-like distributed types (``MULTI_GPU``, ``MULTI_NPU``, ...), never ``MULTI_CPU``, so the Trainer would silently
#: wrap the model in DDP; and the plugin's ``sync_module_states`` asks for an accelerator's current device.
FSDP_CPU_LIMIT = "accelerate enables its FSDP plugin for GPU-type devices only, not for processes on CPUs"


def rank() -> int:
    """This process's global rank; 0 outside a distributed run."""
    return int(os.environ.get("RANK", "0")) if os.environ.get(DISTRIBUTED_ENV) == "1" else 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1")) if os.environ.get(DISTRIBUTED_ENV) == "1" else 1


def is_main() -> bool:
    """Whether this process writes the run's files (rank 0, or the only process)."""
    return rank() == 0


def rank_device() -> str | None:
    """The device a rank loads its model on (``cuda:LOCAL_RANK``); None: the loader's default."""
    if world_size() == 1:
        return None
    import torch

    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"


def agreed_stop(stop: threading.Event) -> bool:
    """Whether any rank was told to stop, agreed by all ranks (one tiny all-reduce); sets ``stop`` if so.

    SIGTERM reaches the ranks at slightly different moments; if each stopped at
    its own step, one would save while another waited in the next step's
    gradient all-reduce. Alone, just the event.
    """
    if world_size() == 1:
        return stop.is_set()
    import torch
    import torch.distributed as dist

    device = "cuda" if torch.cuda.is_available() and dist.get_backend() == "nccl" else "cpu"
    flag = torch.tensor([1 if stop.is_set() else 0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item():
        stop.set()
    return stop.is_set()


def strategy(config: RunConfig, processes: int) -> str:
    """``single``, ``ddp`` or ``fsdp``; inside a rank, the one its worker chose (``STRATEGY_ENV``), so all ranks agree."""
    if processes == 1:
        return "single"
    return os.environ.get(STRATEGY_ENV) or choose(config, processes)[0]


def choose(config: RunConfig, processes: int) -> tuple[str, str]:
    """DDP or FSDP, and why: the setting, or for ``auto`` ``engine.plan``'s choice from the memory estimate."""
    import torch

    if not torch.cuda.is_available():
        if config.train.strategy == "fsdp":
            return "ddp", f"FSDP shards only on GPUs ({FSDP_CPU_LIMIT}), so on the CPU every process holds the whole model"
        return "ddp", "on the CPU (gloo), every process holds the whole model"
    if config.train.strategy != "auto":
        return config.train.strategy, "as set"
    from engine.errors import FinetuiError

    t = config.train
    try:
        from engine.plan import choose_strategy, detect_gpu, model_shape, plan

        estimate = plan(
            model_shape(config.model.name, config.model.trust_remote_code),
            config.model.quant,
            config.lora.r,
            t.batch_size,
            t.seq_len,
            t.grad_accum,
            processes,
            lora_dropout=config.lora.dropout,
            gpu=detect_gpu(),
        )
    except (FinetuiError, ImportError, OSError, ValueError) as exc:
        return "ddp", f"no memory estimate ({exc}), so DDP"
    chosen = choose_strategy(estimate, processes)
    return chosen, "a copy of the 4-bit model fits on each device" if chosen == "ddp" else "a copy does not fit on each device"


def sharded(config: RunConfig) -> bool:
    """Whether this rank's model is sharded by FSDP: its 4-bit weights are then stored in the compute dtype.

    FSDP flattens each wrapped module's parameters into one tensor of one
    dtype: 4-bit weights stored as uint8 beside float norms can't be flattened
    together. The FSDP-QLoRA recipe stores them in the compute dtype instead.
    """
    return strategy(config, world_size()) == "fsdp"


def trainer_arguments(config: RunConfig, processes: int) -> dict[str, Any]:
    """TrainingArguments for the strategy; accelerate builds its DDP or FSDP plugin from them."""
    chosen = strategy(config, processes)
    if chosen == "ddp":
        return {"ddp_find_unused_parameters": False}  # every LoRA weight gets a gradient every step
    if chosen == "fsdp":
        import torch

        on_gpu = torch.cuda.is_available()  # accelerate syncs module states through an accelerator device only
        return {
            "fsdp": "full_shard auto_wrap",
            "fsdp_config": {
                "version": 1,
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "use_orig_params": False,  # the FSDP-QLoRA recipe: frozen 4-bit and trainable LoRA weights in separate flat tensors
                "cpu_ram_efficient_loading": on_gpu,
                "sync_module_states": on_gpu,
                "state_dict_type": "SHARDED_STATE_DICT",
                "offload_params": False,
            },
        }
    return {}
