"""Model resolution: bundled name, folder, Hugging Face cache, offline hub, bad specs. No network."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.models import DEFAULT_MODEL, ModelError, resolve_model
from engine.models import resolve as resolve_mod
from engine.models.catalog import list_models

REPO_ID = "tiny-org/tiny-llama"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_model_files(folder: Path) -> None:
    """A config-only model folder: resolution never reads the weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))


def add_to_hf_cache(cache: Path, repo_id: str, files: dict[str, bytes], commit: str = COMMIT) -> Path:
    """Lay ``files`` out the way huggingface_hub caches a download: blobs, a snapshot of symlinks, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return cache


def test_bundled_name_is_the_default_and_resolves() -> None:
    resolved = resolve_model(DEFAULT_MODEL)
    assert resolved.source == "bundled"
    assert resolved.name == "finetui-tiny"
    assert (resolved.path / "config.json").is_file()
    assert (resolved.path / "model.safetensors").is_file()


def test_local_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    write_model_files(folder)
    resolved = resolve_model(str(folder))
    assert (resolved.name, resolved.path, resolved.source) == ("my-model", folder.resolve(), "local")


def test_folder_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json") as info:
        resolve_model(str(tmp_path))
    assert info.value.code == "not_a_model"


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "weights.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        resolve_model(str(f))


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model") as info:
        resolve_model(str(tmp_path / "nope" / "model"))
    assert info.value.code == "not_found"
    assert "finetui-tiny" in str(info.value)


def test_cached_hub_id_resolves_without_network(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = add_to_hf_cache(hf_cache, REPO_ID, {"config.json": b'{"model_type": "llama"}'})
    monkeypatch.setattr(resolve_mod, "_download", _no_download)
    resolved = resolve_model(REPO_ID)
    assert resolved.source == "cache"
    assert resolved.path == snapshot
    assert resolved.name == REPO_ID


def test_cached_real_model_loads_unquantized(hf_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny saved LlamaForCausalLM in the cache layout loads through the cache, not the network."""
    from engine.models import load_model
    from tests.tiny_model import make_model

    made = make_model(tmp_path / "made")
    files = {p.name: p.read_bytes() for p in made.iterdir() if p.is_file()}
    add_to_hf_cache(hf_cache, REPO_ID, files)
    monkeypatch.setattr(resolve_mod, "_download", _no_download)
    loaded = load_model(REPO_ID, quant="none", device="cpu")
    assert loaded.resolved.source == "cache"
    assert type(loaded.model).__name__ == "LlamaForCausalLM"
    model, tokenizer = loaded
    assert tokenizer.pad_token is not None


def test_offline_hub_id_fails_in_one_line(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(resolve_mod, "_download", _no_download)
    with pytest.raises(ModelError) as info:
        resolve_model("someone/not-downloaded")
    assert str(info.value) == "cannot download 'someone/not-downloaded': offline and not in the local Hugging Face cache"
    assert info.value.code == "offline"


def test_connection_failure_while_downloading_is_the_offline_error(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What snapshot_download raises when the Hub cannot be reached becomes the same one-liner."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def fake_snapshot_download(repo_id: str, **kwargs):
        calls.append(kwargs.get("local_files_only", False))
        raise LocalEntryNotFoundError("An error happened while trying to locate the files on the Hub ...")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(ModelError, match=r"^cannot download 'someone/model': offline and not in the local Hugging Face cache$"):
        resolve_model("someone/model")
    assert calls == [True, False]  # the cache first, then the download


def test_download_passes_patterns_and_cache(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    seen = {}

    def fake_snapshot_download(repo_id: str, **kwargs):
        if kwargs.get("local_files_only"):
            raise LocalEntryNotFoundError("not cached")
        seen.update(kwargs)
        return str(add_to_hf_cache(hf_cache, repo_id, {"config.json": b"{}"}))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    resolved = resolve_model("someone/model")
    assert resolved.source == "hub"
    assert "*.safetensors" in seen["allow_patterns"] and "*.bin" not in seen["allow_patterns"]
    assert Path(seen["cache_dir"]) == hf_cache


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec(spec: str) -> None:
    with pytest.raises(ModelError, match="no model given"):
        resolve_model(spec)


def test_list_models_shows_bundled_and_cached(hf_cache: Path) -> None:
    add_to_hf_cache(hf_cache, REPO_ID, {"config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}).encode()})
    add_to_hf_cache(hf_cache, "someone/no-config", {"README.md": b"hi"})
    models = {m.name: m for m in list_models()}
    tiny = models["finetui-tiny"]
    assert (tiny.source, tiny.architecture, tiny.model_type, tiny.default) == ("bundled", "LlamaForCausalLM", "llama", True)
    assert tiny.size_bytes > 1_000_000
    cached = models[REPO_ID]
    assert (cached.source, cached.architecture) == ("cache", "LlamaForCausalLM")
    assert cached.size_bytes > 0
    assert models["someone/no-config"].architecture == "?"


def test_list_models_without_a_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "missing"))
    assert [m.source for m in list_models()] == ["bundled"]


def _no_download(*args, **kwargs):
    raise AssertionError("tried to download")


def test_no_download_when_not_asked(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolve_mod, "_download", _no_download)
    with pytest.raises(ModelError, match="not in the local Hugging Face cache") as info:
        resolve_model("someone/model", download=False)
    assert info.value.code == "not_found"
