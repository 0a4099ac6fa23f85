"""Export a Ready run: checks first, then the artefact written beside its final place, checked, moved in.

Nothing a user has is overwritten until the new export is whole and has
passed its round-trip check: it is written to a hidden sibling folder and
renamed into place at the end. ``--force`` replaces only an earlier export
(a folder holding finetui's stamp, or a link, never what it points to):
``engine.export.folder`` says what may be replaced and why. A failed check
keeps the export under ``NAME.check-failed`` for inspection and raises
``ExportError``. Error codes besides those of ``ExportError``: ``unsafe``
(an output folder an export never replaces) and ``move`` (the final rename
failed; the message says where each export is).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.export.errors import ExportError
from engine.export.folder import STAMP, check_out, free_name, hidden_partial, move_into_place, normal_modes, out_path, remove_export, stale_siblings, stamp
from engine.export.gguf import GGUF_TYPES, require_quantizer
from engine.export.space import count_parameters, folder_bytes, free_bytes, human, needed_bytes
from engine.paths import home
from engine.runs import Run

TARGETS = ("hf", "adapter", "gguf")
DTYPES = ("auto", "fp32", "bf16", "fp16")
Progress = Callable[[str], None]
_TORCH_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


@dataclass(frozen=True)
class ExportOptions:
    """What to export and where; ``dtype`` auto is the base model's own dtype."""

    target: str = "hf"
    dtype: str = "auto"
    gguf_type: str = "f16"
    out: Path | None = None
    force: bool = False
    check: bool = True
    push_to_hub: str | None = None


@dataclass(frozen=True)
class ExportResult:
    """Where the export went, its round-trip report (None with ``check`` off) and where it was pushed."""

    path: Path
    report: str | None
    passed: bool | None
    pushed: str | None = None


def label(options: ExportOptions, dtype: str) -> str:
    """What an export is in a word: ``hf-fp32``, ``adapter``, ``gguf-q8_0`` (its default folder's suffix, and its stamp's)."""
    return {"hf": f"hf-{dtype}", "adapter": "adapter", "gguf": f"gguf-{options.gguf_type}"}[options.target]


def default_out(run: Run, options: ExportOptions, dtype: str) -> Path:
    return home() / "exports" / f"{run.id}-{label(options, dtype)}"


def base_dtype(run: Run) -> str:
    """The base model's own dtype (config.json), as a ``--dtype`` name; fp32 when it does not say."""
    from engine.models import resolve_model

    try:
        path = resolve_model(run.config().model.name, download=False).path
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, Exception):
        return "fp32"
    return _TORCH_NAMES.get(str(config.get("dtype") or config.get("torch_dtype") or "float32"), "fp32")


def preflight(run: Run, options: ExportOptions) -> tuple[Path, str]:
    """Refuse what can't be exported before any work: the state, a missing tool, the folder, the disk, the hub. Returns (out, dtype)."""
    from engine.models import ModelError, resolve_model
    from engine.runs.process import refresh

    if options.target not in TARGETS:
        raise ExportError(f"unknown export target '{options.target}': choose one of {', '.join(TARGETS)}", "unsupported")
    if options.dtype not in DTYPES:
        raise ExportError(f"unknown dtype '{options.dtype}': choose one of {', '.join(DTYPES)}", "unsupported")
    if options.gguf_type not in GGUF_TYPES:
        raise ExportError(f"unknown GGUF type '{options.gguf_type}': choose one of {', '.join(GGUF_TYPES)}", "unsupported")
    state = refresh(run).state
    if state != "ready":
        raise ExportError(f"run {run.id} is {state}: only a Ready run can be exported", "not_ready")
    if not (run.adapter_dir / "adapter_config.json").is_file():
        raise ExportError(f"run {run.id} is ready but its adapter folder is missing: {run.adapter_dir}", "not_ready")
    if options.target == "gguf":
        require_quantizer(options.gguf_type)
    dtype = base_dtype(run) if options.dtype == "auto" else options.dtype
    out = out_path(options.out if options.out is not None else default_out(run, options, dtype))
    check_out(out, options.force)
    try:
        parameters = count_parameters(resolve_model(run.config().model.name, download=False).path)
    except ModelError as exc:
        raise ExportError(f"cannot find the base model of run {run.id}: {exc.message}", "not_ready") from None
    if options.target != "adapter":
        _check_base_loads(run)
    need = needed_bytes(options.target, parameters, dtype, options.gguf_type, folder_bytes(run.adapter_dir))
    free = free_bytes(out.parent) + sum(folder_bytes(p) for p in stale_siblings(out) if not p.is_symlink())  # removed before writing
    if need > free:
        raise ExportError(f"not enough disk space in {_existing(out.parent)}: the export needs about {human(need)}, {human(free)} is free", "disk")
    if options.push_to_hub:
        hub_reachable(options.push_to_hub)
    return out, dtype


def _check_base_loads(run: Run) -> None:
    """A merge loads the base model: refuse up front what loading would refuse, such as a base folder that gained code
    of its own (``auto_map``) after the run trained without trusting it. An adapter export loads no model."""
    from engine.models import ModelError
    from engine.models.check import check_model

    model = run.config().model
    try:
        check_model(model.name, model.trust_remote_code)
    except ModelError as exc:
        raise ExportError(f"cannot merge run {run.id} into its base model: {exc.message}; export the adapter alone (target adapter), "
                          "or train again trusting the model", "not_ready") from None


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def hub_reachable(repo: str) -> None:
    """Refuse ``--push-to-hub`` up front when the Hub can't be reached or no token is set: nothing is uploaded."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    try:
        HfApi().whoami()
    except OfflineModeIsEnabled:
        raise ExportError(f"cannot push to {repo}: the Hugging Face Hub is in offline mode (HF_HUB_OFFLINE); nothing was exported or uploaded",
                          "offline") from None
    except LocalTokenNotFoundError:
        raise ExportError(f"cannot push to {repo}: no Hugging Face token (run `hf auth login`); nothing was exported or uploaded", "offline") from None
    except HfHubHTTPError as exc:
        raise ExportError(f"cannot push to {repo}: the Hub refused the token ({_first(exc)}); nothing was exported or uploaded", "offline") from None
    except Exception as exc:  # network errors come as requests/httpx exceptions of several kinds
        raise ExportError(f"cannot push to {repo}: the Hugging Face Hub is unreachable ({_first(exc)}); nothing was exported or uploaded", "offline") from None


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:160] if lines else type(exc).__name__


def export_run(run: Run, options: ExportOptions, progress: Progress = lambda _: None) -> ExportResult:
    """Export ``run`` as ``options`` say; raises ``ExportError`` (one line) for anything a user can fix."""
    out, dtype = preflight(run, options)
    for stale in stale_siblings(out):
        progress(f"removing {stale.name}, left by an export that was stopped")
        remove_export(stale)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = hidden_partial(out)
    partial.mkdir()
    try:
        stamp(partial, run.id, label(options, dtype))
        report = _build(run, options, dtype, partial, out, progress)
        normal_modes(partial)
    except BaseException:
        with contextlib.suppress(OSError):
            remove_export(partial)
        raise
    if report is not None and not report.passed:
        failed = free_name(out.parent, f"{out.name}.check-failed")
        if os.path.lexists(failed):
            remove_export(failed)
        os.rename(partial, failed)
        first = report.failures()[0]
        raise ExportError(f"round-trip check failed: {first.what}: export {first.exported}, reference {first.reference}"
                          f"{' (' + first.note + ')' if first.note else ''}; the export is kept in {failed}", "check")
    move_into_place(partial, out)
    pushed = None
    if options.push_to_hub:
        progress(f"pushing {out} to {options.push_to_hub}")
        pushed = push(out, options.push_to_hub)
    return ExportResult(out, report.text() if report else None, report.passed if report else None, pushed)


def push(folder: Path, repo: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True)
        api.upload_folder(repo_id=repo, folder_path=str(folder), ignore_patterns=[STAMP])
    except Exception as exc:
        raise ExportError(f"the export is in {folder}, but pushing it to {repo} failed: {_first(exc)}", "offline") from None
    return f"https://huggingface.co/{repo}"


def _build(run: Run, options: ExportOptions, dtype: str, partial: Path, out: Path, progress: Progress):
    """Write the artefact into ``partial`` and check it; returns the report (None with the check off)."""
    from engine.export.card import model_card
    from engine.export.check import check_hf
    from engine.export.merge import merged_model, save_hf
    from engine.export.template import trained_format

    if options.target == "adapter":
        return _build_adapter(run, options, partial, out, progress)
    progress(f"loading {run.config().model.name} as trained, dequantising to {dtype} and merging the adapter")
    model, tokenizer = merged_model(run, dtype)
    reference_tokenizer = _fresh_tokenizer(run)
    fmt = trained_format(run, _fresh_tokenizer(run))
    if options.target == "hf":
        progress(f"saving safetensors, tokenizer, chat template and generation config to {out}")
        save_hf(model, tokenizer, fmt, partial)
        (partial / "README.md").write_text(model_card(run, "hf", {"dtype": dtype}), encoding="utf-8")
        del model
        if not options.check:
            return None
        report = check_hf(run, partial, dtype, fmt, reference_tokenizer, progress)
        report.artefact = f"{out} (transformers, {dtype})"
        _keep_report(partial, report)
        return report
    from engine.export.gguf import convert, modelfile
    from engine.export.gguf_check import check_gguf

    merged = partial / ".merged"
    progress("saving the merged model for llama.cpp's converter")
    save_hf(model, tokenizer, fmt, merged)
    del model
    name = f"{run.id}-{options.gguf_type}.gguf"
    progress(f"converting to GGUF ({options.gguf_type}) with llama.cpp's convert_hf_to_gguf.py")
    convert(merged, partial / name, options.gguf_type, partial / "convert.log")
    (partial / "Modelfile").write_text(modelfile(name, fmt), encoding="utf-8")
    (partial / "README.md").write_text(model_card(run, "gguf", {"GGUF type": options.gguf_type}), encoding="utf-8")
    report = None
    if options.check:
        report = check_gguf(run, partial / name, merged, options.gguf_type, fmt, reference_tokenizer, progress)
        report.artefact = f"{out / name} ({report.artefact})"
        _keep_report(partial, report)
    shutil.rmtree(merged)
    return report


def _build_adapter(run: Run, options: ExportOptions, partial: Path, out: Path, progress: Progress):
    """A clean PEFT folder: the adapter's config and safetensors, the tokenizer with the training template, a model card."""
    from engine.export.card import model_card
    from engine.export.template import trained_format

    progress(f"copying the adapter and the tokenizer to {out}")
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(run.adapter_dir / name, partial / name)
    tokenizer = _fresh_tokenizer(run)
    fmt = trained_format(run, _fresh_tokenizer(run))
    tokenizer.chat_template = fmt.chat_template
    tokenizer.save_pretrained(str(partial))
    (partial / "README.md").write_text(model_card(run, "adapter"), encoding="utf-8")
    if not options.check:
        return None
    from engine.export.check import Report, compare_format

    progress("check: reloading the adapter folder with peft")
    report = Report(f"{out} (peft adapter)")
    from peft import PeftConfig
    from transformers import AutoTokenizer

    config = PeftConfig.from_pretrained(str(partial))
    cfg = run.config()
    report.add("adapter's base model", config.base_model_name_or_path, cfg.model.name, True, "reported")
    reloaded = AutoTokenizer.from_pretrained(str(partial))
    compare_format(report, reloaded.chat_template, [reloaded.eos_token_id] if reloaded.eos_token_id is not None else [], reloaded.eos_token, fmt)
    _keep_report(partial, report)
    return report


def _fresh_tokenizer(run: Run):
    """The base model's tokenizer as training loaded it (pad set as training sets it)."""
    from transformers import AutoTokenizer

    from engine.models import resolve_model

    cfg = run.config().model
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg.name, download=False).path, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _keep_report(folder: Path, report) -> None:
    (folder / "roundtrip.txt").write_text(report.text() + "\n", encoding="utf-8")
