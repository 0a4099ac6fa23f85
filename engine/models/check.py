"""Check a model folder or an adapter folder from its files, before anything is loaded.

A run must not be created for a model that cannot load: ``finetui train`` and
the TUI's Launch both call ``check_model`` first, so they agree. Only headers
and small JSON files are read, so this is cheap enough for every keystroke
of the TUI's model field. Weights are safetensors only, for base models and
adapters alike: a pickled ``.bin`` file can run code when loaded.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from engine.models.errors import ModelError
from engine.models.load import check_remote_code
from engine.models.resolve import ResolvedModel, hub_cache_dir, hub_offline, is_hub_id, resolve_model

#: Pickled weight files finetui refuses to load.
PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt")
#: A safetensors header above this is not a header (the format caps it at 100 MB).
MAX_HEADER_BYTES = 100_000_000
#: The file peft writes an adapter's weights to.
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def safetensors_header(file: Path) -> dict[str, Any]:
    """The tensor table of a safetensors file (``__metadata__`` left out); ``ModelError`` if it is broken."""
    try:
        size_on_disk = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("shorter than a header")
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER_BYTES or size > size_on_disk - 8:
                raise ValueError(f"header length {size:,} does not fit the file")
            header = json.loads(fh.read(size))
    except OSError as exc:
        raise ModelError(f"cannot read {file}: {exc.strerror or exc}", code="not_a_model") from None
    except ValueError as exc:
        raise ModelError(f"{file} is not a valid safetensors file: {_first_line(exc)}", code="not_a_model") from None
    if not isinstance(header, dict):
        raise ModelError(f"{file} is not a valid safetensors file: its header is not a table of tensors", code="not_a_model")
    tensors = {name: info for name, info in header.items() if name != "__metadata__"}
    for name, info in tensors.items():
        if not _tensor_entry_ok(info, size_on_disk):
            raise ModelError(f"{file} is not a valid safetensors file: tensor {name!r} has a broken entry", code="not_a_model")
    return tensors


def _tensor_entry_ok(info: Any, size_on_disk: int) -> bool:
    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        return False
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return False
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) and o >= 0 for o in offsets):
        return False
    return offsets[0] <= offsets[1] <= size_on_disk


def check_weights(folder: Path, what: str) -> list[Path]:
    """The folder's safetensors files, each with a readable header; refuses pickled-only folders."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = [p.name for pattern in PICKLED for p in folder.glob(pattern)]
        if pickled:
            raise ModelError(
                f"{what} has only pickled weights ({', '.join(sorted(pickled)[:3])}); finetui loads .safetensors only",
                code="not_a_model",
            )
        raise ModelError(f"{what} has no .safetensors weights", code="not_a_model")
    for file in files:
        safetensors_header(file)
    return files


def check_config(folder: Path, what: str) -> dict[str, Any]:
    """The folder's ``config.json`` as an object that names its ``model_type``."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}", code="not_a_model") from None
    except ValueError as exc:
        raise ModelError(f"{path} is not valid JSON: {_first_line(exc)}", code="not_a_model") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path} is not a JSON object", code="not_a_model")
    if not isinstance(config.get("model_type"), str):
        raise ModelError(f"{path} has no model_type: {what} is not a transformers model", code="not_a_model")
    return config


def check_model(spec: str, trust_remote_code: bool = False) -> ResolvedModel | None:
    """Everything that can be known about a model without loading it; ``ModelError`` says what is wrong.

    Returns the resolved folder, or None for a Hugging Face id that is not on
    disk and will be downloaded by the run (the Hub is not asked here).
    """
    try:
        resolved = resolve_model(spec, download=False)
    except ModelError as exc:
        if exc.code == "not_found" and is_hub_id(spec.strip()) and not hub_offline():
            cache = hub_cache_dir()
            if cache.exists() and not cache.is_dir():  # the download would have nowhere to go
                raise ModelError(f"cannot download '{spec.strip()}': the Hugging Face cache {cache} is a file, not a folder (HF_HUB_CACHE)",
                                 code="not_found") from None
            return None
        raise
    what = f"'{spec.strip()}'"
    check_config(resolved.path, what)
    check_weights(resolved.path, what)
    check_remote_code(resolved, trust_remote_code)
    return resolved


def check_adapter(folder: Path, what: str) -> None:
    """An adapter folder finetui will load: its config and ``adapter_model.safetensors``, never pickled weights."""
    if not (folder / "adapter_config.json").is_file():
        raise ModelError(f"{what} has no adapter_config.json", code="not_a_model")
    weights = folder / ADAPTER_WEIGHTS
    if not weights.is_file():
        pickled = [p.name for pattern in PICKLED for p in folder.glob(pattern)]
        kind = f"only pickled weights ({', '.join(sorted(pickled))}); finetui loads .safetensors only" if pickled else f"no {ADAPTER_WEIGHTS}"
        raise ModelError(f"{what} has {kind}", code="not_a_model")
    safetensors_header(weights)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
