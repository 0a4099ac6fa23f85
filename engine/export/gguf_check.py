"""The round-trip check of a GGUF file, through llama.cpp where llama-cpp-python is installed.

With llama-cpp-python (the ``export`` extra), the GGUF is loaded by
llama.cpp itself: its tokenizer is compared with transformers' on the eval
split's own texts, its eval loss (from llama.cpp's logits) with the
scorecard's, its end-of-generation tokens with training's end of turn, and
its greedy answers with the playground's.

Without it, the file is read back with llama.cpp's ``gguf`` package (the
vendored one the converter wrote it with): every tensor, dequantised,
against what llama.cpp's own converter makes of the merged weights (its
name mapping and Q/K permutation, not one written here), within the
precision of the type; the vocabulary token by token against the
tokenizer's; the eos id and the chat template against training's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from engine.export.check import (
    LOSS_TOLERANCE,
    Progress,
    Report,
    compare_answers,
    compare_loss,
    eval_split,
    playground_answers,
    prompts,
)
from engine.export.gguf import llama_cpp_available
from engine.export.llama_convert import use_vendored_gguf
from engine.export.template import TrainedFormat
from engine.runs import Run
from engine.train.tokenize import IGNORE

#: Allowed relative RMS error of a dequantised tensor against the merged weight, by GGUF type.
TENSOR_TOLERANCE = {"f32": 0.0, "f16": 1e-3, "bf16": 8e-3, "q8_0": 1e-2, "q6_k": 2e-2, "q5_k_m": 4e-2, "q5_0": 4e-2, "q4_k_m": 8e-2, "q4_0": 8e-2}


def check_gguf(run: Run, gguf_file: Path, merged: Path, gguf_type: str, fmt: TrainedFormat, reference_tokenizer: Any, progress: Progress) -> Report:
    """llama.cpp's view of the file when it can be loaded here, else the file read back (module docstring)."""
    report = _read_back(gguf_file, merged, gguf_type, fmt, reference_tokenizer, progress)
    if llama_cpp_available():
        _through_llama_cpp(report, run, gguf_file, gguf_type, fmt, reference_tokenizer, progress)
    else:
        report.add("llama.cpp", "not installed here", "llama-cpp-python", True,
                   "loss and answers not checked through llama.cpp; tensors and tokenizer read back instead")
    return report


# -- the file read back ----------------------------------------------------------------------------


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def _read_back(gguf_file: Path, merged: Path, gguf_type: str, fmt: TrainedFormat, tokenizer: Any, progress: Progress) -> Report:
    use_vendored_gguf()
    from gguf import GGUFReader

    report = Report(f"GGUF {gguf_type}")
    progress("check: reading the GGUF back (tokenizer metadata, chat template, tensors)")
    reader = GGUFReader(gguf_file)
    tokens = _field(reader, "tokenizer.ggml.tokens") or []
    hf = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    differ = sum(1 for a, b in zip(tokens, hf, strict=False) if a != b) + abs(len(tokens) - len(hf))
    report.add("vocabulary (GGUF tokens vs tokenizer, by id)", f"{differ} of {len(hf)} differ", "0 differ", differ == 0,
               f"pre-tokenizer {_field(reader, 'tokenizer.ggml.pre')!r}")
    eos = _field(reader, "tokenizer.ggml.eos_token_id")
    report.add("eos id (tokenizer.ggml.eos_token_id)", eos, tokenizer.eos_token_id, eos == tokenizer.eos_token_id)
    template = _field(reader, "tokenizer.chat_template")
    report.add("chat template (tokenizer.chat_template)", "same as training" if template == fmt.chat_template else ("missing" if not template else "different"),
               "the template training used" if fmt.chat else "the base model's (none used in training)", template == fmt.chat_template)
    worst, name, count = _compare_tensors(reader, merged)
    tol = TENSOR_TOLERANCE[gguf_type]
    report.add("tensors vs merged weights (relative RMS error, worst)", f"{worst:.2e} ({name})", f"{count} tensors", worst <= tol + 1e-7,
               f"tolerance {tol:g} ({gguf_type})")
    return report


def _compare_tensors(reader: Any, merged: Path) -> tuple[float, str, int]:
    """The worst relative RMS error of a GGUF tensor against llama.cpp's converter's own tensor of that name."""
    import numpy as np
    import torch
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class
    from gguf import LlamaFileType
    from gguf.quants import dequantize

    hparams = ModelBase.load_hparams(merged, False)
    cls = get_model_class(get_model_architecture(hparams, ModelType.TEXT), mmproj=False)
    converter = cls(merged, LlamaFileType.ALL_F32, merged / "unused.gguf", eager=True, dry_run=True, hparams=hparams)
    expected: dict[str, Any] = {}
    with torch.inference_mode():
        for hf_name, data in converter.get_tensors():
            bid = next((int(p) for p in hf_name.split(".") if p.isdecimal()), None)
            for gguf_name, tensor in converter.modify_tensors(data, hf_name, bid):
                expected[gguf_name] = tensor.float().numpy()
    worst, worst_name, count = 0.0, "", 0
    for t in reader.tensors:
        if t.name not in expected:
            return math.inf, f"{t.name}: not made by the converter", count
        got = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(expected[t.name].shape)
        want = expected[t.name]
        err = float(np.sqrt(np.mean((got - want) ** 2)) / max(float(np.sqrt(np.mean(want**2))), 1e-12))
        count += 1
        if err > worst or not worst_name:
            worst, worst_name = err, t.name
    missing = [n for n in expected if n not in {t.name for t in reader.tensors}]
    if missing:
        return math.inf, f"{missing[0]} missing from the GGUF", count
    return worst, worst_name, count


# -- llama.cpp itself -------------------------------------------------------------------------------


def _through_llama_cpp(report: Report, run: Run, gguf_file: Path, gguf_type: str, fmt: TrainedFormat, tokenizer: Any, progress: Progress) -> None:
    import numpy as np
    from llama_cpp import Llama, llama_vocab_is_eog

    progress("check: loading the GGUF in llama.cpp (llama-cpp-python)")
    reference = eval_split(run, tokenizer, fmt, None)
    width = max((len(e) for e in reference.encoded), default=16)
    llm = Llama(model_path=str(gguf_file), n_ctx=max(width, 64), n_batch=max(width, 64), logits_all=True, verbose=False,
                n_threads=max(1, min(4, os.cpu_count() or 1)), seed=0)
    report.artefact += f", loaded in llama.cpp (llama-cpp-python {_version()})"
    differ = sum(1 for text in _texts(reference.examples, fmt, tokenizer)
                 if llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) != tokenizer(text, add_special_tokens=False)["input_ids"])
    report.add("llama.cpp tokenizer vs transformers (eval texts)", f"{differ} differ", "0 differ", differ == 0)
    vocab = llm._model.vocab
    stops = sorted(i for i in range(llm.n_vocab()) if llama_vocab_is_eog(vocab, i))
    missing = [i for i in fmt.eos_token_ids if i not in stops]
    report.add("llama.cpp end-of-generation ids", stops, list(fmt.eos_token_ids), not missing, f"missing {missing}" if missing else "")
    progress("check: scoring the eval split with llama.cpp")
    total, hits, count = 0.0, 0, 0
    for enc in reference.encoded:
        llm.reset()
        llm.eval(enc.input_ids)
        logits = np.asarray(llm.scores[: len(enc.input_ids)], dtype=np.float64)
        for i in range(1, len(enc.input_ids)):
            if enc.labels[i] == IGNORE:
                continue
            row = logits[i - 1]
            top = row.max()
            logprob = row[enc.input_ids[i]] - top - math.log(np.exp(row - top).sum())
            total -= logprob
            hits += int(row.argmax() == enc.input_ids[i])
            count += 1
    compare_loss(report, total / count if count else None, hits / count if count else None, run, gguf_type if gguf_type in LOSS_TOLERANCE else "q4_0")
    asked = prompts(reference.examples)
    progress(f"check: greedy answers to {len(asked)} eval prompts in llama.cpp and the playground")
    got = []
    for prompt in asked:
        if prompt.turns:
            out = llm.create_chat_completion([{"role": r, "content": c} for r, c in prompt.turns], max_tokens=24, temperature=0, top_k=1, seed=0)
            got.append(out["choices"][0]["message"]["content"] or "")
        else:
            ids = llm.tokenize(prompt.text.encode("utf-8"), add_bos=True, special=False)
            out = llm.create_completion(ids, max_tokens=24, temperature=0, top_k=1, seed=0)
            got.append(out["choices"][0]["text"])
    compare_answers(report, asked, playground_answers(run, asked), got, gguf_type)


def _texts(examples: list[Any], fmt: TrainedFormat, tokenizer: Any) -> list[str]:
    """The pieces of text training tokenized, each as it went to the tokenizer."""
    from engine.train.templates import render, turn_json

    out: list[str] = []
    for e in examples:
        if e.kind == "text":
            out.append(e.text)
        elif e.kind == "prompt_completion":
            out += [e.prompt, e.completion]
        elif fmt.template.text is not None:
            out.append(render(tokenizer, fmt.template.text, [turn_json(m) for m in e.messages], tokenize=False))
    return out


def _version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")
