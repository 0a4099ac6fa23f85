"""What a fine-tune says when the GPU runs out of memory: the batch size and sequence length that would fit.

The memory model (``engine.plan``) gives the fit for the run's settings on
this card; when it can't shape the model, or says the settings that just
failed would fit, the fit is scaled from the failure itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.gpu import peak_memory_per_gpu, probe


@dataclass(frozen=True)
class Fit:
    """A batch size and sequence length that fit, by the memory model."""

    batch_size: int
    seq_len: int


def fitting(fixed: float, per_token: float, free: float, batch_size: int, seq_len: int, min_seq_len: int = 64) -> Fit | None:
    """The largest batch (up to ``batch_size``) at ``seq_len`` within ``free`` bytes, given memory = fixed + per_token x tokens;
    at batch 1 the sequence length is halved until it fits. None when not even ``min_seq_len`` tokens fit.

    Keeping the sequence length and lowering the batch comes first: cutting
    the length would cut examples, lowering the batch only slows the run
    (``--grad-accum`` keeps the effective batch).
    """
    room = free - fixed
    if room <= 0 or per_token <= 0:
        return None
    batch = min(batch_size, int(room // (per_token * seq_len)))
    if batch >= 1:
        return Fit(batch, seq_len)
    length = seq_len
    while length > min_seq_len:
        length //= 2
        if per_token * length <= room:
            return Fit(1, max(length, min_seq_len))
    return None


def oom_advice(batch_size: int, seq_len: int, grad_accum: int, fit: Fit | None, device_name: str, total_bytes: int | None) -> str:
    """A CUDA OOM as a failed run's reason: what ran out, and the batch size and sequence length that would fit.

    Said in the config's terms, as ``Hint.plain`` says a hint: the reason is
    stored with the run and read by every front end.
    """
    where = device_name + (f" ({total_bytes / 2**30:.1f} GiB)" if total_bytes else "")
    said = f"the GPU ran out of memory on {where} at batch size {batch_size}, sequence length {seq_len}"
    if fit is None:
        return f"{said}: even batch 1 at 64 tokens does not fit; set model.quant to '4bit', or use a smaller model"
    step = batch_size * grad_accum
    accum = -(-step // fit.batch_size)  # enough accumulation to keep at least the step's sequences
    kept = f"the same {step} sequences per step" if accum * fit.batch_size == step else f"{accum * fit.batch_size} sequences per step; it was {step}"
    length = f", train.seq_len to {fit.seq_len}" if fit.seq_len != seq_len else ""
    return f"{said}: set train.batch_size to {fit.batch_size}{length} and train.grad_accum to {accum} ({kept})"


def measured_fit(peak_bytes: int, requested_bytes: int, base_bytes: int, batch_size: int, seq_len: int) -> Fit | None:
    """What would fit, scaled from the run's own failure: the weights stay, the rest grows with the tokens.

    At an OOM the process had reached ``peak_bytes`` and asked for
    ``requested_bytes`` more (torch's "Tried to allocate"): the step wanted at
    least their sum, and no more than the peak was to be had (the card, other
    processes, a memory cap). ``base_bytes`` is what stays whatever the batch
    (the weights). The step's want is a lower bound, so the advice errs large
    only by what the step would have asked for after the failed allocation.
    """
    tokens = batch_size * seq_len
    per_token = max(1.0, (peak_bytes + requested_bytes - base_bytes) / tokens)
    return fitting(base_bytes, per_token, peak_bytes, batch_size, seq_len)


def requested_bytes(exc: BaseException) -> int:
    """The allocation a CUDA OOM failed on, from torch's message ("Tried to allocate 2.00 GiB"); 0 if it does not say."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found = re.search(r"Tried to allocate ([0-9.]+) (GiB|MiB|KiB|B)", str(exc))
        if found:
            return int(float(found.group(1)) * {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10, "B": 1}[found.group(2)])
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return 0


def planned_fit(cfg: Any, total_bytes: int) -> Fit | None:
    """What would fit by ``engine.plan``'s memory model of this run on a card of ``total_bytes``."""
    from engine.plan import Gpu, model_shape, plan

    shape = model_shape(cfg.model.name, cfg.model.trust_remote_code)
    gpu = Gpu("this GPU", total_bytes, total_bytes)
    full = plan(shape, cfg.model.quant, cfg.lora.r, cfg.train.batch_size, cfg.train.seq_len, optim=_plan_optim(cfg),
                checkpointing=cfg.train.checkpointing != "off", lora_dropout=cfg.lora.dropout, gpu=gpu)
    tokens = cfg.train.batch_size * cfg.train.seq_len
    per_token = (full.single.activations + full.single.logits) / tokens
    fixed = full.single.total - full.single.activations - full.single.logits
    return fitting(fixed, per_token, total_bytes, cfg.train.batch_size, cfg.train.seq_len)


def _plan_optim(cfg: Any) -> str:
    return "adamw" if cfg.train.optim == "adamw" else "paged_adamw_8bit"


def advise_oom(cfg: Any, exc: BaseException) -> str:
    """The failed run's reason after a CUDA OOM: the memory model's fit for this card; scaled from the failure
    itself when the model can't shape this one, or when it says the settings that just failed would fit."""
    import torch

    device = probe()
    total = device.total_bytes or 0
    batch, length = cfg.train.batch_size, cfg.train.seq_len
    try:
        fit = planned_fit(cfg, total)
    except Exception:  # a model the memory model can't shape (remote code, an odd config)
        fit = None
    if fit is None or fit == Fit(batch, length):
        peak = max(peak_memory_per_gpu() or (0,))
        fit = measured_fit(peak, requested_bytes(exc), int(torch.cuda.memory_allocated()), batch, length)
    return oom_advice(batch, length, cfg.train.grad_accum, fit, device.name, total or None)


def is_cuda_oom(exc: BaseException) -> bool:
    """A CUDA out-of-memory error however it arrives (torch's OutOfMemoryError, or its text from a kernel)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


class GpuOutOfMemory(RuntimeError):
    """A CUDA OOM during training, worded with the settings that would fit (the run's failure reason)."""
