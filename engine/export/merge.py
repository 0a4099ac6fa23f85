"""The run's model as plain weights: the base dequantised to a dtype, the LoRA adapter merged in.

Training ran on the base quantized to 4 bits (NF4) or 8 bits, so the weights
the adapter learned against are the quantized ones, not the base's original
float weights. The base is therefore loaded exactly as training loaded it,
then dequantised (transformers' ``dequantize``), so that the merged model
computes what the trained one computed; peft's ``merge_and_unload`` folds
the adapter in. torch, transformers and peft are imported when called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.export.template import TrainedFormat
from engine.runs import Run

#: ``--dtype`` names to torch dtypes.
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def merged_model(run: Run, dtype: str) -> tuple[Any, Any]:
    """The run's model merged into plain ``dtype`` weights, on the CPU, and the base tokenizer."""
    import torch
    from peft import PeftModel

    from engine.models import load_model

    cfg = run.config().model
    loaded = load_model(cfg.name, quant=cfg.quant, trust_remote_code=cfg.trust_remote_code, dtype="float32")  # type: ignore[arg-type]
    model = loaded.model
    if cfg.quant != "none":
        model = model.dequantize(dtype=torch.float32)
    model = model.to("cpu")
    model = PeftModel.from_pretrained(model, str(run.adapter_dir), is_trainable=False)
    model = model.merge_and_unload()
    model = model.to(getattr(torch, DTYPES[dtype]))
    model.eval()
    return model, loaded.tokenizer


def save_hf(model: Any, tokenizer: Any, fmt: TrainedFormat, out: Path) -> None:
    """Write safetensors, the tokenizer with the chat template training used, and a generation config that
    stops at the end-of-turn tokens."""
    tokenizer.chat_template = fmt.chat_template
    config = model.config
    config.use_cache = True
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are plain now; a reload must not quantize them
    gen = model.generation_config
    gen.eos_token_id = list(fmt.eos_token_ids) if len(fmt.eos_token_ids) != 1 else fmt.eos_token_ids[0]
    if tokenizer.bos_token_id is not None:
        gen.bos_token_id = tokenizer.bos_token_id
    if tokenizer.pad_token_id is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    _drop_quantization(out / "config.json")


def _drop_quantization(config_path: Path) -> None:
    """Remove a leftover ``quantization_config`` from a written config.json (transformers may keep it)."""
    data = json.loads(config_path.read_text(encoding="utf-8"))
    if data.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
