"""The models finetui can use without downloading: the bundled ones and the local Hugging Face cache.

Reads folders and JSON only; no torch, so ``finetui models`` answers at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.models.errors import ModelError
from engine.models.resolve import DEFAULT_MODEL, Source, bundled_models, hub_cache_dir


@dataclass(frozen=True)
class ModelInfo:
    """One model on disk, as ``finetui models`` lists it."""

    name: str
    source: Source
    path: Path
    size_bytes: int
    architecture: str
    model_type: str
    default: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "architecture": self.architecture,
            "model_type": self.model_type,
            "default": self.default,
        }


def read_config(folder: Path) -> dict:
    """``config.json`` of a model folder, or ``{}`` when it is missing or unreadable."""
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_architecture(config: dict) -> tuple[str, str]:
    """The architecture class (``LlamaForCausalLM``) and model type (``llama``) from a config, or ``?``."""
    architectures = config.get("architectures") or []
    architecture = architectures[0] if isinstance(architectures, list) and architectures else "?"
    return str(architecture), str(config.get("model_type") or "?")


def folder_size(folder: Path) -> int:
    """Bytes of the files in ``folder`` (symlinks followed: a cache snapshot links to blobs)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            pass
    return total


def list_bundled() -> list[ModelInfo]:
    out = []
    for name, folder in bundled_models().items():
        arch, kind = describe_architecture(read_config(folder))
        out.append(ModelInfo(name, "bundled", folder, folder_size(folder), arch, kind, default=name == DEFAULT_MODEL))
    return out


def list_cached(cache_dir: Path | None = None) -> list[ModelInfo]:
    """Models (not datasets or spaces) in the local Hugging Face cache; ``[]`` when there is no cache, ``ModelError`` when it is a file."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache_dir = cache_dir or hub_cache_dir()
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ModelError(f"the Hugging Face cache {cache_dir} is a file, not a folder: point HF_HUB_CACHE (or HF_HOME) at a folder", code="not_found")
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    out = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        # The revision that `main` points at, else the newest one.
        revision = next((r for r in repo.revisions if "main" in r.refs), None) or max(repo.revisions, key=lambda r: r.last_modified)
        arch, kind = describe_architecture(read_config(revision.snapshot_path))
        out.append(ModelInfo(repo.repo_id, "cache", revision.snapshot_path, repo.size_on_disk, arch, kind))
    return out


def list_models(cache_dir: Path | None = None) -> list[ModelInfo]:
    """The bundled models first, then the cached ones by name."""
    return [*list_bundled(), *list_cached(cache_dir)]
