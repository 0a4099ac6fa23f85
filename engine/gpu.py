"""The choices a run makes from the device it runs on: ``engine.plan`` resolves them as a run on a GPU would, the fine-tune for its own device.

Each choice is a run setting whose default, ``auto``, decides here from the
device (see ``engine.config``); the pure functions take the device's
figures as arguments, so the decisions are tested without a GPU:

- compute dtype: bf16 on Ampere and newer (compute capability 8.0+), whose
  range matches float32's, so no loss scaling; fp16 on older cards (T4,
  V100), with the Trainer's loss scaling (``fp16=True``: a GradScaler);
  float32 on the CPU (see ``engine.models.load.compute_dtype``);
- gradient checkpointing: on by default on a GPU, non-reentrant (the
  reentrant variant needs inputs that require grad, which a frozen 4-bit
  base does not give, and it is the one PyTorch deprecates); off on the
  CPU, where memory is rarely the limit and the recompute costs a third;
- attention: FlashAttention-2 when the ``flash_attn`` package is installed
  and the GPU computes in 16 bits, else PyTorch's SDPA. With FlashAttention-2
  packed rows are flattened into one sequence (``engine.train.packing``),
  because its variable-length path reads example boundaries from
  ``position_ids`` only for a batch of one row;
- optimizer: paged 8-bit AdamW (bitsandbytes) on a GPU, as QLoRA does: its
  states take a quarter of AdamW's and page to the CPU on a memory spike;
  torch's AdamW on the CPU, where bitsandbytes' paged optimizers do not run;
- Liger kernels (transformers' ``use_liger_kernel``) when ``liger-kernel`` is
  installed and the run is on a GPU: fused RMSNorm, RoPE, SwiGLU and a
  cross-entropy that never materialises the full logits.

torch is imported inside the functions that need it.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from engine.errors import FinetuiError, Hint

#: ``train.precision``, ``train.checkpointing``, ``model.attention``, ``train.optim``, ``train.liger``.
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
SWITCHES = ("auto", "on", "off")
ATTENTIONS = ("auto", "sdpa", "flash_attention_2", "eager")
OPTIMS = ("auto", "adamw", "paged_adamw_8bit")
#: The Trainer's names for finetui's optimizers.
TRAINER_OPTIM = {"adamw": "adamw_torch_fused", "paged_adamw_8bit": "paged_adamw_8bit"}
#: bf16 needs compute capability 8.0 (Ampere) or newer.
BF16_CAPABILITY = (8, 0)
#: The dtype names ``engine.models.load.compute_dtype`` takes.
DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


class GpuSettingError(FinetuiError, ValueError):
    """A GPU setting that this machine cannot honour (FlashAttention-2 not installed, a paged optimizer on the CPU)."""


@dataclass(frozen=True)
class Device:
    """What the choices depend on: a CUDA device's name, compute capability and memory, or the CPU."""

    name: str
    capability: tuple[int, int] | None = None
    """None for the CPU."""
    total_bytes: int | None = None

    @property
    def cuda(self) -> bool:
        return self.capability is not None


CPU = Device("cpu")


def probe() -> Device:
    """The first CUDA device, or ``CPU``."""
    import torch

    if not torch.cuda.is_available():
        return CPU
    props = torch.cuda.get_device_properties(0)
    return Device(props.name, (props.major, props.minor), int(props.total_memory))


@dataclass(frozen=True)
class Choices:
    """What a run does on its device, every ``auto`` resolved."""

    precision: str
    """bf16, fp16 or fp32."""
    checkpointing: bool
    attention: str
    optim: str
    """adamw or paged_adamw_8bit."""
    liger: bool

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES[self.precision]

    @property
    def flatten_packed(self) -> bool:
        """Whether packed rows go to the model as one flattened row (FlashAttention-2's varlen path)."""
        return self.attention == "flash_attention_2"

    def trainer_args(self) -> dict[str, Any]:
        """The TrainingArguments these choices set."""
        return {
            "bf16": self.precision == "bf16",
            "fp16": self.precision == "fp16",
            "gradient_checkpointing": self.checkpointing,
            "gradient_checkpointing_kwargs": {"use_reentrant": False} if self.checkpointing else None,
            "optim": TRAINER_OPTIM[self.optim],
            "use_liger_kernel": self.liger,
        }

    def describe(self) -> str:
        parts = [self.precision, f"{self.attention} attention", self.optim]
        parts.append("gradient checkpointing" if self.checkpointing else "no checkpointing")
        if self.liger:
            parts.append("Liger kernels")
        return ", ".join(parts)


def precision(device: Device, setting: str = "auto") -> str:
    """bf16 on Ampere+, fp16 on older GPUs, fp32 on the CPU; an explicit setting wins where the device has it."""
    if setting == "auto":
        if not device.cuda:
            return "fp32"
        return "bf16" if device.capability >= BF16_CAPABILITY else "fp16"  # type: ignore[operator]
    if setting == "bf16" and device.cuda and device.capability < BF16_CAPABILITY:  # type: ignore[operator]
        raise GpuSettingError(f"{device.name} has no bf16 (compute capability {_cap(device)}; bf16 needs 8.0)", "unsupported",
                              Hint("train.precision", "fp16"))
    if setting == "fp16" and not device.cuda:
        raise GpuSettingError("fp16 training needs a GPU (the CPU has no fp16 loss scaling)", "unsupported", Hint("train.precision", "auto"))
    return setting


def checkpointing(device: Device, setting: str = "auto") -> bool:
    return device.cuda if setting == "auto" else setting == "on"


def attention(device: Device, precision_name: str, setting: str = "auto", flash_installed: bool | None = None) -> str:
    """FlashAttention-2 when installed on a 16-bit GPU run, else SDPA; an explicit choice is checked, not second-guessed."""
    installed = importable("flash_attn") if flash_installed is None else flash_installed
    usable = device.cuda and precision_name in ("bf16", "fp16") and installed
    if setting == "auto":
        return "flash_attention_2" if usable else "sdpa"
    if setting == "flash_attention_2" and not usable:
        why = "it is not installed (pip install flash-attn)" if not installed else "it runs only on a GPU in bf16 or fp16"
        raise GpuSettingError(f"flash_attention_2 can't be used: {why}", "unsupported", Hint("model.attention", "sdpa"))
    return setting


def optimizer(device: Device, setting: str = "auto") -> str:
    if setting == "auto":
        return "paged_adamw_8bit" if device.cuda else "adamw"
    if setting == "paged_adamw_8bit" and not device.cuda:
        raise GpuSettingError("paged_adamw_8bit needs a CUDA GPU (bitsandbytes pages optimizer states through CUDA)", "unsupported",
                              Hint("train.optim", "adamw"))
    return setting


def liger(device: Device, setting: str = "auto", installed: bool | None = None) -> bool:
    present = importable("liger_kernel") if installed is None else installed
    if setting == "auto":
        return device.cuda and present
    if setting == "on" and not (device.cuda and present):
        why = "it is not installed (pip install liger-kernel)" if not present else "its kernels run only on a GPU"
        raise GpuSettingError(f"Liger kernels can't be used: {why}", "unsupported", Hint("train.liger", "off"))
    return setting == "on"


def choose(device: Device, cfg: Any) -> Choices:
    """Resolve a run config's device settings for ``device``; ``GpuSettingError`` for one it cannot honour."""
    prec = precision(device, cfg.train.precision)
    return Choices(
        precision=prec,
        checkpointing=checkpointing(device, cfg.train.checkpointing),
        attention=attention(device, prec, cfg.model.attention),
        optim=optimizer(device, cfg.train.optim),
        liger=liger(device, cfg.train.liger),
    )


def cuda_device_count() -> int:
    """The CUDA devices a run here would see, without importing torch: ``CUDA_VISIBLE_DEVICES`` when set, else the NVIDIA device files.

    Front ends use it to check ``train.devices`` before a run exists; torch
    itself (``probe``) is asked only inside the run's process.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = 0
        for entry in (d.strip() for d in visible.split(",") if d.strip()):
            if entry.startswith("-"):  # CUDA stops at the first invalid index: "-1" hides every device
                break
            count += 1
        return count
    return len(glob.glob("/dev/nvidia[0-9]*"))


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, as ``taskset`` or a container limit sets it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity outside Linux
        return max(1, os.cpu_count() or 1)


def importable(module: str) -> bool:
    """Whether ``module`` can be imported here, without importing it (a dotted name whose parent is missing: no)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cap(device: Device) -> str:
    return ".".join(map(str, device.capability or ()))


def peak_memory_per_gpu() -> tuple[int, ...]:
    """The peak bytes allocated on each visible GPU since the process started (empty on the CPU)."""
    import torch

    if not torch.cuda.is_available():
        return ()
    return tuple(int(torch.cuda.max_memory_allocated(i)) for i in range(torch.cuda.device_count()))
