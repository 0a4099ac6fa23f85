"""Load a model and its tokenizer: 4-bit NF4 by default, 8-bit, or unquantized.

torch, transformers and bitsandbytes are imported inside the functions, so
importing this module costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import Hint
from engine.models.errors import ModelError
from engine.models.resolve import ResolvedModel, resolve_model

if TYPE_CHECKING:
    import torch

Quant = Literal["4bit", "8bit", "none"]
QUANTS: tuple[Quant, ...] = ("4bit", "8bit", "none")
#: Files whose ``auto_map`` points at code shipped with the model.
_AUTO_MAP_FILES = ("config.json", "tokenizer_config.json")


@dataclass
class LoadedModel:
    """A loaded model, its tokenizer, and how it was loaded. Unpacks as ``model, tokenizer``."""

    model: Any
    tokenizer: Any
    resolved: ResolvedModel
    quant: Quant
    device: str
    compute_dtype: str

    def __iter__(self):
        yield self.model
        yield self.tokenizer


def remote_code_files(folder: Path) -> list[str]:
    """The ``auto_map`` entries of a model folder: code it ships, which runs only with trust_remote_code."""
    found: list[str] = []
    for name in _AUTO_MAP_FILES:
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        if isinstance(auto_map, dict):
            for value in auto_map.values():
                for ref in value if isinstance(value, list) else [value]:
                    if isinstance(ref, str) and ref not in found:
                        found.append(ref)
    return found


#: The fix for a model that ships code: trusting it, which runs that code.
TRUST_HINT = Hint("model.trust_remote_code", True, "if you trust it")
#: The fix when bitsandbytes cannot quantize here.
UNQUANTIZED_HINT = Hint("model.quant", "none", "to load the model unquantized")


def check_remote_code(resolved: ResolvedModel, trust_remote_code: bool) -> None:
    """Refuse a model that ships its own code unless the user said they trust it.

    Checked here, before transformers is called, so that no interactive prompt
    appears and nothing from the model folder is imported.
    """
    refs = remote_code_files(resolved.path)
    if refs and not trust_remote_code:
        shown = ", ".join(refs[:3]) + (", ..." if len(refs) > 3 else "")
        raise ModelError(
            f"'{resolved.name}' ships its own code ({shown})",
            code="remote_code",
            hint=TRUST_HINT,
        )


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


#: Compute dtypes a caller may ask for by name.
DTYPES = ("float32", "bfloat16", "float16")


def compute_dtype(device: str, name: str | None = None) -> torch.dtype:
    """``name`` if given; else bf16 on a GPU that has it (else fp16), and float32 on a CPU.

    On the CPU, bitsandbytes dequantizes 4-bit weights to the compute dtype
    for every matmul; float32 runs natively on every CPU and is exact for
    the non-quantized layers (embeddings, norms). On a CPU with AVX512-BF16,
    bfloat16 made a 4-bit LoRA step of finetui-tiny up to ~1.3x faster in
    noisy measurements (inference the same), so float32 stays the default.
    """
    import torch

    if name is not None:
        if name not in DTYPES:
            raise ModelError(f"unknown compute dtype '{name}': choose one of {', '.join(DTYPES)}", code="load")
        return getattr(torch, name)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def quiet_kernel_hub() -> None:
    """Silence the ``kernels`` package's warnings in this process: bitsandbytes' CPU backend asks it for a kernel on import.

    With ``HF_HUB_OFFLINE`` set, every import of bitsandbytes printed
    "Skipping publisher trust check for 'kernels-community/...'" on stderr
    (``kernels._internals.hf_hub``'s logger), in every generate and export.
    Nothing a user can act on; its errors still show. Called in finetui's own
    processes, before the import, not at module import.
    """
    import logging

    logging.getLogger("kernels").setLevel(logging.ERROR)


def check_bitsandbytes(quant: Quant, device: str) -> None:
    """Raise a ``ModelError`` that hints at ``model.quant`` none when bitsandbytes cannot serve ``device``."""
    quiet_kernel_hub()
    try:
        import bitsandbytes as bnb
    except Exception as exc:  # a broken install raises more than ImportError
        message = f"{quant} loading needs bitsandbytes, which cannot be imported ({type(exc).__name__}: {exc})"
        raise ModelError(message, code="quantization", hint=UNQUANTIZED_HINT) from None
    supported = set(getattr(bnb, "supported_torch_devices", ()) or ())
    kind = device.split(":")[0]
    if supported and kind not in supported:
        message = f"bitsandbytes {bnb.__version__} has no backend for {kind} (it supports {', '.join(sorted(supported))})"
        raise ModelError(message, code="quantization", hint=UNQUANTIZED_HINT)


def quantization_config(quant: Quant, dtype: torch.dtype, sharded: bool = False):
    """bitsandbytes' config; ``sharded`` (FSDP-QLoRA) stores the 4-bit weights in ``dtype``, so FSDP can flatten them with the rest."""
    from transformers import BitsAndBytesConfig

    if quant == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            **({"bnb_4bit_quant_storage": dtype} if sharded else {}),
        )
    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return None


def load_model(
    spec: str,
    quant: Quant = "4bit",
    device: str | None = None,
    trust_remote_code: bool = False,
    resolved: ResolvedModel | None = None,
    dtype: str | None = None,
    sharded: bool = False,
    attention: str | None = None,
) -> LoadedModel:
    """Resolve ``spec`` (see ``resolve_model``) and load the model and tokenizer for training.

    Weights load from safetensors only. ``device`` defaults to the GPU when
    there is one; ``dtype`` (float32, bfloat16, float16) overrides the compute
    dtype chosen for the device. ``attention`` names the attention kernel
    (``flash_attention_2``, ``eager``); SDPA or None leaves transformers'
    choice for the architecture, which is SDPA except where a family needs
    otherwise (Gemma 2's logit soft-capping runs eager). Raises ``ModelError``
    for anything a user can fix.
    """
    if quant not in QUANTS:
        raise ModelError(f"unknown quantization '{quant}': choose one of {', '.join(QUANTS)}", code="quantization")
    resolved = resolved or resolve_model(spec)
    check_remote_code(resolved, trust_remote_code)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or default_device()
    torch_dtype = compute_dtype(device, dtype)
    kwargs: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": trust_remote_code, "dtype": torch_dtype}
    if attention not in (None, "auto", "sdpa"):
        kwargs["attn_implementation"] = attention
    if quant != "none":
        check_bitsandbytes(quant, device)
        kwargs["quantization_config"] = quantization_config(quant, torch_dtype, sharded)
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, trust_remote_code=trust_remote_code)
    except ModelError:
        raise
    except (OSError, ValueError, RuntimeError, ImportError, KeyError) as exc:
        raise ModelError(f"cannot load '{resolved.name}': {_explain(exc, resolved.path)}", code="load") from exc
    if quant == "none":
        model.to(device)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model, tokenizer, resolved, quant, device, str(torch_dtype).removeprefix("torch."))


def _explain(exc: BaseException, folder: Path) -> str:
    if isinstance(exc, OSError) and not any(folder.glob("*.safetensors")):
        return "it has no .safetensors weights (finetui does not load pickled .bin weights)"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
