"""GGUF for llama.cpp, Ollama and LM Studio: conversion by llama.cpp's own code, quantization, a Modelfile.

The merged folder (``engine.export.merge``) is converted by
``engine.export.llama_convert`` in a process of its own: llama.cpp's
converter writes f32, f16, bf16 and q8_0 itself. The other types (q4_k_m and
friends) are made from the f16 file by llama.cpp's quantizer through
llama-cpp-python, where it is installed.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

from engine.export.errors import ExportError
from engine.export.llama_convert import OUTTYPES
from engine.export.template import TrainedFormat

#: Types llama.cpp's quantizer makes from an f16 file (llama-cpp-python's ``LLAMA_FTYPE_MOSTLY_*``).
QUANTIZED = {"q4_0": "Q4_0", "q4_k_m": "Q4_K_M", "q5_0": "Q5_0", "q5_k_m": "Q5_K_M", "q6_k": "Q6_K"}
GGUF_TYPES = (*OUTTYPES, *QUANTIZED)

#: The Go template Ollama needs for chats trained with ``FALLBACK_TEMPLATE`` (same text, turn by turn).
FALLBACK_GO_TEMPLATE = (
    "{{- range .Messages }}"
    "{{- if eq .Role \"system\" }}System: {{ .Content }}\n"
    "{{ else if eq .Role \"user\" }}User: {{ .Content }}\n"
    "{{ else if eq .Role \"tool\" }}Tool result: {{ .Content }}\n"
    "{{ else }}Assistant: {{ .Content }}{{ EOS }}\n"
    "{{ end }}"
    "{{- end }}Assistant:"
)


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except Exception:  # not installed, or a build that can't load here
        return False
    return True


def convert(merged: Path, out_file: Path, gguf_type: str, log: Path) -> None:
    """Convert the merged folder to ``out_file`` of ``gguf_type``; the converter's output goes to ``log``."""
    outtype = gguf_type if gguf_type in OUTTYPES else "f16"
    target = out_file if gguf_type in OUTTYPES else out_file.with_suffix(".f16.gguf")
    with log.open("w", encoding="utf-8") as fh:
        done = subprocess.run(
            [sys.executable, "-m", "engine.export.llama_convert", str(merged), "--outfile", str(target), "--outtype", outtype],
            stdout=fh, stderr=subprocess.STDOUT, check=False,
        )
    if done.returncode != 0:
        raise ExportError(f"llama.cpp's converter failed: {_last_line(log)} (full output: {log})", "convert")
    if gguf_type in QUANTIZED:
        quantize(target, out_file, gguf_type)
        target.unlink()


def require_quantizer(gguf_type: str) -> None:
    """Refuse a quantized ``gguf_type`` where llama.cpp's quantizer is missing: the export's preflight asks, before minutes of merging."""
    if gguf_type in QUANTIZED and not llama_cpp_available():
        raise ExportError(
            f"GGUF type {gguf_type} needs llama.cpp's quantizer from llama-cpp-python (pip install 'finetui[export]'); "
            f"{', '.join(OUTTYPES)} work without it",
            "unsupported",
        )


def quantize(source: Path, out_file: Path, gguf_type: str) -> None:
    """llama.cpp's quantizer (``llama_model_quantize``) through llama-cpp-python."""
    require_quantizer(gguf_type)
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{QUANTIZED[gguf_type]}")
    result = llama_cpp.llama_model_quantize(str(source).encode(), str(out_file).encode(), ctypes.byref(params))
    if result != 0:
        raise ExportError(f"llama.cpp's quantizer failed on {source.name} ({gguf_type}, code {result})", "convert")


def modelfile(gguf_name: str, fmt: TrainedFormat) -> str:
    """An Ollama Modelfile: the weights, the prompt layout training used, and the end-of-turn stop tokens.

    A run that rendered no chat continues the prompt as written (llama.cpp
    adds the bos). Chats trained with finetui's default template get its Go
    equivalent; a model's own jinja template is in the GGUF
    (``tokenizer.chat_template``), where Ollama reads it from.
    """
    lines = ["# Ollama Modelfile written by finetui: ollama create NAME -f Modelfile", f"FROM ./{gguf_name}"]
    if not fmt.chat:
        lines.append('TEMPLATE """{{ .Prompt }}"""')
    elif fmt.default_template:
        lines.append(f'TEMPLATE """{FALLBACK_GO_TEMPLATE.replace("{{ EOS }}", fmt.eos_token or "")}"""')
    else:
        lines.append("# TEMPLATE: the model's own chat template is in the GGUF (tokenizer.chat_template); Ollama reads it there")
    for token in fmt.eos_tokens:
        lines.append(f'PARAMETER stop "{token}"')
    return "\n".join(lines) + "\n"


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"
