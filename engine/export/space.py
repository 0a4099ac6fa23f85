"""How much disk an export needs, estimated before anything is written.

A merged model is as large as its parameters times the bytes of the chosen
dtype; a GGUF export also needs the merged folder it converts from, until the
conversion is done. The parameters are counted from the base model's
safetensors headers, so nothing is loaded to estimate.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

#: Bytes per parameter of each dtype or GGUF type (q8_0: 34 bytes per block of 32).
BYTES_PER_PARAM = {
    "fp32": 4.0, "fp16": 2.0, "bf16": 2.0,
    "f32": 4.0, "f16": 2.0, "q8_0": 34 / 32, "q6_k": 210 / 256, "q5_k_m": 176 / 256, "q4_k_m": 144 / 256,
}
#: Headroom on top of the weights: tokenizer, configs, file headers.
MARGIN = 1.05
_DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def count_parameters(model_dir: Path) -> int:
    """Parameters in a model folder's safetensors files, read from their headers only."""
    total = 0
    for file in sorted(model_dir.glob("*.safetensors")):
        with file.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            total += count
    return total


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def needed_bytes(target: str, parameters: int, dtype: str, gguf_type: str, adapter_bytes: int) -> int:
    """Bytes an export writes at its peak: the adapter, the merged weights, or the merged weights and the GGUF."""
    if target == "adapter":
        return int(adapter_bytes * MARGIN) + 64 * 1024
    merged = parameters * BYTES_PER_PARAM[dtype]
    if target == "hf":
        return int(merged * MARGIN)
    return int((merged + parameters * BYTES_PER_PARAM.get(gguf_type, 2.0)) * MARGIN)


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk that holds ``folder`` (or its nearest existing parent)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
