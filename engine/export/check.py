"""The round-trip check: does the exported artefact behave like the model the run trained?

Peers' users find out after the fact that an export lost the chat template,
never stops (no end-of-turn token) or tokenizes differently. This check
finds out first, on the run's own held-out split:

- **tokens**: the eval split encoded with the exported tokenizer and its
  chat template, as a user of the export would, against the ids training
  scored (the base tokenizer with the training template);
- **template** and **end of turn**: the template and the eos the export
  carries, against those training used;
- **eval loss**: the exported model's loss on that encoding, against the
  run's scorecard (``metrics.json``), within a tolerance per dtype;
- **greedy answers**: a few eval prompts, generated greedily by the export
  and by the playground's custom model (``engine.infer``: base plus adapter).

Each line says what was compared, the difference and the tolerance; the
check fails if any line is beyond it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data import DataSpec, Example, split_examples
from engine.export.template import TrainedFormat
from engine.runs import Run, RunStore
from engine.train.tokenize import Encoded, encode_windows

#: Allowed |eval loss difference| against the scorecard, by the export's dtype or GGUF type.
LOSS_TOLERANCE = {
    "fp32": 1e-3, "fp16": 1e-2, "bf16": 3e-2,
    "f32": 1e-2, "f16": 2e-2, "q8_0": 5e-2, "q6_k": 0.1, "q5_k_m": 0.15, "q5_0": 0.15, "q4_k_m": 0.25, "q4_0": 0.25,
}
#: Types whose greedy answers must equal the playground's word for word; lower precision may flip near-ties.
EXACT_ANSWERS = ("fp32",)
#: Top-2 logit gap under which a greedy step is a near-tie that either side may break either way. The
#: playground's 4-bit layers run bitsandbytes' CPU kernel, which on CPUs with AVX512-BF16 computes in
#: bfloat16 (about 3 significant digits): logits of a few units differ by up to a few hundredths.
TIE_MARGIN = 0.05
#: Eval prompts generated from, and new tokens each.
PROMPTS = 3
MAX_NEW_TOKENS = 24


@dataclass(frozen=True)
class Line:
    """One comparison: what, the export's value, the reference, and whether it is within tolerance."""

    what: str
    exported: str
    reference: str
    ok: bool
    note: str = ""


@dataclass
class Report:
    """The round-trip report of one artefact; ``passed`` when every line is within tolerance."""

    artefact: str
    lines: list[Line] = field(default_factory=list)
    answers: list[tuple[str, str, str]] = field(default_factory=list)
    """(prompt, playground's custom model, export) greedy answers."""

    @property
    def passed(self) -> bool:
        return all(line.ok for line in self.lines)

    def add(self, what: str, exported: object, reference: object, ok: bool, note: str = "") -> None:
        self.lines.append(Line(what, str(exported), str(reference), ok, note))

    def failures(self) -> list[Line]:
        return [line for line in self.lines if not line.ok]

    def text(self) -> str:
        """The report as the CLI prints it and the export folder keeps it (roundtrip.txt)."""
        out = [f"round-trip check of {self.artefact}: {'PASSED' if self.passed else 'FAILED'}"]
        for line in self.lines:
            mark = "ok  " if line.ok else "FAIL"
            out.append(f"  {mark} {line.what}: export {line.exported} · reference {line.reference}" + (f" · {line.note}" if line.note else ""))
        for prompt, ref, got in self.answers:
            same = "same" if ref == got else "DIFFERENT"
            out.append(f"  greedy ({same}) {prompt[-40:]!r}")
            out.append(f"      playground: {ref!r}")
            out.append(f"      export:     {got!r}")
        return "\n".join(out)


@dataclass(frozen=True)
class EvalSplit:
    """The run's held-out examples as training encoded them (pairs made chats when it rendered them so)."""

    examples: list[Example]
    encoded: list[Encoded]
    seq_len: int
    kind: str
    """The data's kind (most examples'): text, prompt_completion or messages."""


def eval_split(run: Run, tokenizer: Any, fmt: TrainedFormat, context: int | None) -> EvalSplit:
    """The eval split exactly as training made and encoded it (same split, seed, template and window length).

    ``tokenizer`` gets the run's template, as training's did (``templates.apply``).
    """
    from engine.train import templates

    cfg = run.config()
    spec = DataSpec(cfg.data.path, format=cfg.data.format, separator=cfg.data.separator, mapping=cfg.data.mapping)
    _, examples = split_examples(spec, cfg.data.eval_fraction, cfg.train.seed)
    kinds = [e.kind for e in examples]
    kind = max(set(kinds), key=kinds.count) if kinds else "text"
    seq_len = min(cfg.train.seq_len, context or cfg.train.seq_len)
    examples = templates.apply(fmt.template, tokenizer, examples)
    return EvalSplit(examples, encode_split(examples, tokenizer, seq_len), seq_len, kind)


def encode_split(examples: Sequence[Example], tokenizer: Any, seq_len: int) -> list[Encoded]:
    return [w for e in examples for w in encode_windows(e, tokenizer, seq_len)]


@dataclass(frozen=True)
class Prompt:
    """An eval prompt: the text of a pair's prompt or a text's first words, or a chat's turns before its last answer."""

    text: str = ""
    turns: tuple[tuple[str, str], ...] = ()


def prompts(examples: Sequence[Example], count: int = PROMPTS) -> list[Prompt]:
    """Up to ``count`` eval prompts (``examples`` as ``eval_split`` made them)."""
    out: list[Prompt] = []
    for e in examples:
        if len(out) == count:
            break
        if e.kind == "prompt_completion":
            out.append(Prompt(e.prompt))
        elif e.kind == "text":
            words = e.text.split(" ")
            out.append(Prompt(" ".join(words[: max(1, min(12, len(words) // 2))])))
        else:
            last = max((i for i, m in enumerate(e.messages) if m.role == "assistant"), default=0)
            if last:
                out.append(Prompt(turns=tuple((m.role, m.content) for m in e.messages[:last])))
    return out


def prompt_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """What a user of the export feeds it: a chat through the export's own chat template with the generation
    prompt (``apply_chat_template``), else bos and the prompt."""
    if prompt.turns:
        out = tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in prompt.turns], add_generation_prompt=True, tokenize=True)
        return list(out["input_ids"] if hasattr(out, "keys") else out)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + list(tokenizer(prompt.text, add_special_tokens=False)["input_ids"])


def compare_tokens(report: Report, exported: list[Encoded], reference: list[Encoded], where: str) -> None:
    """How many eval windows the export encodes differently from training (ids or trained-token labels)."""
    differ = sum(1 for a, b in zip(exported, reference, strict=False) if a.input_ids != b.input_ids or a.labels != b.labels)
    differ += abs(len(exported) - len(reference))
    report.add(f"eval split tokens ({where})", f"{differ} of {len(reference)} windows differ", "0 differ", differ == 0)


def compare_format(report: Report, template: str | None, eos_ids: Sequence[int], eos_token: str | None, fmt: TrainedFormat) -> None:
    """The export's chat template and end-of-turn tokens against training's."""
    if template == fmt.chat_template:
        said = "same as training" if fmt.chat else ("the base model's own" if template else "none, as the base model")
    else:
        said = "missing" if not template else "different"
    report.add("chat template", said, "the template training used" if fmt.chat else "none used in training", template == fmt.chat_template)
    missing = [i for i in fmt.eos_token_ids if i not in set(eos_ids)]
    report.add("end-of-turn ids (generation stops at)", sorted(set(eos_ids)), list(fmt.eos_token_ids), not missing,
               f"missing {missing}" if missing else "")
    report.add("eos token", repr(eos_token), repr(fmt.eos_token), eos_token == fmt.eos_token)


def compare_loss(report: Report, loss: float | None, accuracy: float | None, run: Run, kind: str) -> None:
    """The export's eval loss against the scorecard's custom loss, within ``LOSS_TOLERANCE[kind]``."""
    card = run.metrics()
    ref = card.custom.loss if card is not None else None
    tol = LOSS_TOLERANCE[kind]
    if ref is None or loss is None:
        report.add("eval loss", _f(loss), _f(ref), False, "no scored tokens to compare")
        return
    diff = abs(loss - ref)
    report.add("eval loss vs scorecard", f"{loss:.5f}", f"{ref:.5f}", math.isfinite(loss) and diff <= tol, f"|diff| {diff:.2e}, tolerance {tol:g} ({kind})")
    ref_acc = card.custom.accuracy if card is not None else None
    if accuracy is not None and ref_acc is not None:
        report.add("eval token accuracy vs scorecard", f"{accuracy:.4f}", f"{ref_acc:.4f}", True, f"diff {accuracy - ref_acc:+.4f} (reported)")


def compare_answers(report: Report, asked: list[Prompt], reference: list[str], got: list[str], kind: str, ties: int = 0) -> None:
    """Greedy answers, word for word; ``ties`` of the differing ones part where the export's top two tokens
    are within ``TIE_MARGIN`` (a near-tie that float rounding may break either way: reported, not failed)."""
    same = sum(1 for a, b in zip(reference, got, strict=True) if a == b)
    shown = [p.text or p.turns[-1][1] for p in asked]
    report.answers = list(zip(shown, reference, got, strict=True))
    exact = kind in EXACT_ANSWERS
    note = ("must all match" + (f"; {ties} differ only after a near-tie (top-2 logits within {TIE_MARGIN:g})" if ties else "")) if exact \
        else "lower precision may differ: reported"
    report.add("greedy answers vs playground", f"{same} of {len(asked)} the same", f"{len(asked)} of {len(asked)}",
               same + ties == len(asked) or not exact, note)


def near_tie(tokenizer: Any, reference: str, got: list[int], margins: list[float]) -> bool:
    """Whether the export's greedy answer leaves ``reference`` at or after a step where its top two logits were
    within ``TIE_MARGIN`` of each other: the parting step is the first whose decoded answer is no longer a
    prefix of the reference."""
    parting = len(got) - 1
    for k in range(len(got)):
        if not reference.startswith(tokenizer.decode(got[: k + 1], skip_special_tokens=True)):
            parting = k
            break
    return any(m < TIE_MARGIN for m in margins[: parting + 1])


def playground_answers(run: Run, asked: list[Prompt], max_tokens: int = MAX_NEW_TOKENS) -> list[str]:
    """The playground's custom model (its inference session: the base as trained plus the adapter), greedy."""
    from engine.infer.protocol import Done, GenerateRequest, Turn
    from engine.infer.session import InferenceSession

    session = InferenceSession(RunStore(run.dir.parent), device="cpu")
    out: list[str] = []
    done: list[Done] = []
    for prompt in asked:
        done.clear()
        request = GenerateRequest(prompt=prompt.text, messages=tuple(Turn(r, c) for r, c in prompt.turns), run=run.id, models=("custom",),
                                  max_tokens=max_tokens, temperature=0, seed=0)
        session.generate(request, lambda reply: done.append(reply) if isinstance(reply, Done) else None)
        out.append(done[-1].text if done else "")
    return out


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.5f}"


Progress = Callable[[str], None]


def check_hf(run: Run, folder: Path, dtype: str, fmt: TrainedFormat, reference_tokenizer: Any, progress: Progress) -> Report:
    """Reload ``folder`` with plain transformers and compare it with the run (see the module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.train.scorecard import evaluate

    report = Report(f"{folder} (transformers, {dtype})")
    progress("check: reloading the export with AutoModelForCausalLM and AutoTokenizer")
    model = AutoModelForCausalLM.from_pretrained(folder)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    reference = eval_split(run, reference_tokenizer, fmt, getattr(model.config, "max_position_embeddings", None))
    exported = encode_split(reference.examples, tokenizer, reference.seq_len)
    compare_tokens(report, exported, reference.encoded, "transformers tokenizer")
    gen_eos = model.generation_config.eos_token_id
    eos_ids = [gen_eos] if isinstance(gen_eos, int) else list(gen_eos or [])
    compare_format(report, tokenizer.chat_template, eos_ids, tokenizer.eos_token, fmt)
    progress("check: scoring the eval split with the export")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    figures = evaluate(model, exported, pad)
    compare_loss(report, figures.loss, figures.accuracy, run, dtype)
    asked = prompts(reference.examples)
    progress(f"check: greedy answers to {len(asked)} eval prompts, export and playground")
    got, new_ids, margins = [], [], []
    for prompt in asked:
        ids = torch.tensor([prompt_ids(tokenizer, prompt)])
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                                 pad_token_id=pad, output_scores=True, return_dict_in_generate=True)
        new = out.sequences[0, ids.shape[1]:].tolist()
        got.append(tokenizer.decode(new, skip_special_tokens=True))
        new_ids.append(new)
        margins.append([float(g[0] - g[1]) for g in (torch.topk(step[0].float(), 2).values for step in out.scores)])
    reference_answers = playground_answers(run, asked)
    ties = sum(1 for i, (ref, text) in enumerate(zip(reference_answers, got, strict=True))
               if ref != text and near_tie(tokenizer, ref, new_ids[i], margins[i]))
    compare_answers(report, asked, reference_answers, got, dtype, ties)
    return report
