"""Models: find one by name, folder or Hugging Face id, list those on disk, load one.

- ``resolve_model(spec)``: a ``ResolvedModel`` (name, path, source: bundled,
  local, cache or hub); downloads from the Hub only when it must.
- ``load_model(spec, quant="4bit")``: the model and tokenizer, 4-bit NF4 by
  default; unpacks as ``model, tokenizer``.
- ``list_models()``: the bundled models and the local Hugging Face cache.
- ``ModelError``: anything a user can fix, as one line.

Importing this package imports neither torch nor huggingface_hub.
"""

from engine.models.catalog import ModelInfo, list_models
from engine.models.errors import ModelError
from engine.models.load import QUANTS, LoadedModel, Quant, load_model, remote_code_files
from engine.models.resolve import BUNDLED_DIR, DEFAULT_MODEL, ResolvedModel, resolve_model

__all__ = [
    "BUNDLED_DIR",
    "DEFAULT_MODEL",
    "QUANTS",
    "LoadedModel",
    "ModelError",
    "ModelInfo",
    "Quant",
    "ResolvedModel",
    "list_models",
    "load_model",
    "remote_code_files",
    "resolve_model",
]
