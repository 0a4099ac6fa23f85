"""Turn a model spec (a bundled name, a folder, a Hugging Face id) into a local folder.

No torch here: resolving needs only the file system and huggingface_hub.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.models.errors import ModelError
from engine.paths import SAMPLE_DATA

#: Where the models that ship with finetui live, one folder per model.
BUNDLED_DIR = SAMPLE_DATA / "models"
#: The model used when none is given: tiny, trained from scratch on public-domain books.
DEFAULT_MODEL = "finetui-tiny"
#: What is fetched from the Hub: configs, safetensors weights, tokenizer files and
#: code files (fetched, never run unless the run's config trusts it: model.trust_remote_code).
#: Pickled ``*.bin`` weights are left out: finetui loads safetensors only.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja", "*.py"]
#: ``name`` or ``owner/name``: letters, digits, ``-``, ``_`` and ``.``.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

Source = Literal["bundled", "local", "cache", "hub"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model folder on disk, with the name it was asked by and where it came from."""

    name: str
    path: Path
    source: Source


def bundled_models() -> dict[str, Path]:
    """The models shipped in ``sample_data/models``, by name."""
    if not BUNDLED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(BUNDLED_DIR.iterdir()) if (p / "config.json").is_file()}


def is_hub_id(spec: str) -> bool:
    """Whether ``spec`` reads as a Hugging Face id (``gpt2``, ``Qwen/Qwen2.5-0.5B``) rather than a path."""
    return bool(_HUB_ID.match(spec)) and not spec.startswith(".") and ".." not in spec


def hub_offline() -> bool:
    """Whether huggingface_hub is told to stay offline (``HF_HUB_OFFLINE``), read now, not at import."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder, read from the environment now.

    huggingface_hub reads ``HF_HUB_CACHE`` once, at import; reading it again
    here lets a caller (or a test) point finetui at another cache later.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve_model(spec: str, download: bool = True, tqdm_class: type | None = None) -> ResolvedModel:
    """Find the model folder for ``spec``, downloading it from the Hub only as a last resort.

    Tried in order: a bundled model's name; an existing folder; a Hugging Face
    id already in the local cache; a download (``download=False`` skips it).
    ``tqdm_class`` replaces the download's progress bars (the TUI passes its own).
    Raises ``ModelError`` with a one-line message otherwise.
    """
    spec = spec.strip()
    if not spec:
        raise ModelError("no model given", code="not_found")
    bundled = bundled_models()
    if spec in bundled:
        return ResolvedModel(spec, bundled[spec], "bundled")

    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"'{spec}' is a file; a model is a folder with a config.json", code="not_a_model")
        if not (path / "config.json").is_file():
            raise ModelError(f"'{spec}' has no config.json: it is not a Hugging Face model folder", code="not_a_model")
        return ResolvedModel(path.name, path.resolve(), "local")

    if not is_hub_id(spec):
        known = ", ".join(bundled) or "none"
        raise ModelError(f"no model '{spec}': not a bundled model ({known}), an existing folder or a Hugging Face id", code="not_found")

    cached = _from_cache(spec)
    if cached is not None:
        return ResolvedModel(spec, cached, "cache")
    if hub_offline():
        raise offline_error(spec)
    if not download:
        raise ModelError(f"'{spec}' is not in the local Hugging Face cache (and downloading was not asked for)", code="not_found")
    return ResolvedModel(spec, _download(spec, tqdm_class), "hub")


def _from_cache(repo_id: str) -> Path | None:
    """The cached snapshot of ``repo_id``'s main branch, when it is there and complete."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(
            repo_id, local_files_only=True, allow_patterns=DOWNLOAD_PATTERNS, cache_dir=hub_cache_dir()
        ))
    except (LocalEntryNotFoundError, ValueError):  # ValueError: an id the hub's validator rejects
        return None
    return folder if (folder / "config.json").is_file() else None


def _download(repo_id: str, tqdm_class: type | None) -> Path:
    from huggingface_hub import snapshot_download

    kwargs: dict[str, object] = {"allow_patterns": DOWNLOAD_PATTERNS, "cache_dir": hub_cache_dir()}
    if tqdm_class is not None:
        kwargs["tqdm_class"] = tqdm_class
    try:
        folder = Path(snapshot_download(repo_id, **kwargs))
    except Exception as exc:
        failure = hub_failure(repo_id, exc)
        if failure is None:
            raise
        raise failure from None
    if not (folder / "config.json").is_file():
        raise ModelError(f"'{repo_id}' on the Hugging Face Hub has no config.json: not a transformers model", code="not_a_model")
    return folder


def offline_error(repo_id: str, doing: str = "download") -> ModelError:
    """The Hub can't be reached (or ``HF_HUB_OFFLINE`` says not to try) and ``repo_id`` is not in the cache."""
    return ModelError(f"cannot {doing} '{repo_id}': offline and not in the local Hugging Face cache", code="offline")


def hub_failure(repo_id: str, exc: BaseException, doing: str = "download") -> ModelError | None:
    """What went wrong asking the Hub for ``repo_id``, in a line a user can act on; None if ``exc`` is no Hub failure.

    transformers wraps the Hub's errors in an ``OSError`` of its own, so the
    cause chain is searched too: reading one config (``finetui plan``) says
    "offline" as a download does, not transformers' paragraph.
    """
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    network_errors = (LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError, TimeoutError, *_transport_errors())
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, GatedRepoError):
            return ModelError(f"'{repo_id}' is gated: accept its licence on huggingface.co, then log in with `hf auth login`", code="hub")
        if isinstance(seen, RepositoryNotFoundError):
            return ModelError(f"no model '{repo_id}' on the Hugging Face Hub (or it is private: log in with `hf auth login`)", code="not_found")
        if isinstance(seen, RevisionNotFoundError):
            return ModelError(f"'{repo_id}' has no main branch on the Hugging Face Hub", code="hub")
        if isinstance(seen, HFValidationError):
            return ModelError(f"'{repo_id}' is not a valid Hugging Face id: {_first_line(seen)}", code="not_found")
        if isinstance(seen, network_errors):
            return offline_error(repo_id, doing)
        if isinstance(seen, HfHubHTTPError):
            return ModelError(f"cannot {doing} '{repo_id}': {_first_line(seen)}", code="hub")
        seen = seen.__cause__ or seen.__context__
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection errors (huggingface_hub 2 uses httpx2, 1.x httpx)."""
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

