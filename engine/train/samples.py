"""Samples: what the baseline and the custom model actually write on held-out examples, side by side.

After training, each of up to ``train.samples`` eval examples is cut into a
prompt and its reference completion, as training saw it: a prompt/completion
pair at the completion, a chat at its last trained assistant turn, plain
text at its middle. Both models continue the prompt in one batch, a row
each (peft's ``adapter_names``: ``__base__`` turns the adapter off for the
baseline's row), several examples to a batch, under the same greedy
decoding, so a difference between the outputs is the fine-tune's doing.
Each model's loss on the reference is scored the same way
(``engine.eval.score_rows``).

The samples go to ``samples.jsonl`` in the run folder, those on which the
custom model did worse first (flagged): a higher loss on the reference, or,
for prompt/completion data, a reference the baseline contained and the
custom model lost. For prompt/completion and chat data the exact-match and
contains-the-reference rates of both models go to the scorecard (for a chat,
the reference is its last trained assistant turn).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.data import Example
from engine.runs import Run
from engine.runs.events import PhaseEvent, SampleRates
from engine.train.tokenize import IGNORE, encode
from engine.words import counted

SAMPLES_FILE = "samples.jsonl"
#: peft's name for a batch row with every adapter off.
BASE_ROW = "__base__"
#: Data whose samples have an answer to check: the completion, or the chat's last trained assistant turn (plain text has none).
ANSWERED = ("prompt_completion", "chat")
#: Tokens generated past the reference's length, so a longer answer shows where it goes.
EXTRA_TOKENS = 16
#: Tokens generated per sample, at most.
MAX_NEW_TOKENS = 128
#: Examples completed per ``generate`` call (two rows each).
SAMPLE_BATCH = 8
#: Plain text: the prompt is the first half of the example, at most this many tokens, and the reference as many after it.
TEXT_PROMPT_TOKENS = 64


def samples_path(run: Run) -> Path:
    return run.dir / SAMPLES_FILE


@dataclass(frozen=True)
class Sample:
    """One held-out example completed by both models.

    ``exact`` and ``contains`` (per model) are None for plain text, which has
    no answer to check; a loss is None when the reference had no token to score.
    """

    index: int
    """The example's number in the data file (from 0), and ``line`` where it starts."""
    line: int
    prompt: str
    reference: str
    baseline: str
    custom: str
    baseline_loss: float | None
    custom_loss: float | None
    worse: bool
    baseline_exact: bool | None = None
    baseline_contains: bool | None = None
    custom_exact: bool | None = None
    custom_contains: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Sample:
        """A line read back; ``ValueError`` names what is missing from it."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        missing = [name for name in ("prompt", "reference", "baseline", "custom") if not isinstance(raw.get(name), str)]
        if missing:
            raise ValueError(f"it has no {missing[0]!r} text")

        def number(key: str) -> float | None:
            value = raw.get(key)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        def flag(key: str) -> bool | None:
            value = raw.get(key)
            return value if isinstance(value, bool) else None

        index, line = raw.get("index"), raw.get("line")
        return cls(
            index=index if isinstance(index, int) else -1,
            line=line if isinstance(line, int) else 0,
            prompt=raw["prompt"],
            reference=raw["reference"],
            baseline=raw["baseline"],
            custom=raw["custom"],
            baseline_loss=number("baseline_loss"),
            custom_loss=number("custom_loss"),
            worse=raw.get("worse") is True,
            baseline_exact=flag("baseline_exact"),
            baseline_contains=flag("baseline_contains"),
            custom_exact=flag("custom_exact"),
            custom_contains=flag("custom_contains"),
        )


def _normal(text: str) -> str:
    return " ".join(text.split())


def exact(output: str, reference: str) -> bool:
    """The output is the reference, whitespace aside."""
    return _normal(output) == _normal(reference)


def contains(output: str, reference: str) -> bool:
    """The reference appears in the output, whitespace and case aside (an empty reference never counts)."""
    wanted = _normal(reference).casefold()
    return bool(wanted) and wanted in _normal(output).casefold()


def split_prompt(example: Example, tokenizer: Any, max_len: int) -> tuple[list[int], list[int]]:
    """``(prompt ids, reference ids)`` as training tokenizes the example (``engine.train.tokenize.encode``).

    The reference is the last run of trained tokens (the completion with its
    end of text, the last trained assistant turn); for plain text, the tokens
    after the first half.
    """
    enc = encode(example, tokenizer, max_len)
    ids, labels = enc.input_ids, enc.labels
    if example.kind == "text":
        cut = max(1, min(len(ids) // 2, TEXT_PROMPT_TOKENS))
        return ids[:cut], ids[cut : cut + TEXT_PROMPT_TOKENS]
    end = max((i for i, label in enumerate(labels) if label != IGNORE), default=-1) + 1
    start = end
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    return ids[:start], ids[start:end]


def generate_samples(
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    max_len: int,
    adapter: str = "default",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Sample]:
    """Both models on each example (greedy, same batch), with their losses on the reference; worse ones first.

    Up to ``SAMPLE_BATCH`` examples of similar prompt lengths go in one
    ``generate`` call, two rows each, left-padded: on a small model a step's
    cost is mostly per-call overhead, so one example per call spent more
    time here than a short run spent training. Padding and batch size change
    float rounding a little (bitsandbytes' 4-bit layers most), so a greedy
    near-tie can go the other way than for the example alone
    (``bench/samples.py`` counts how often).

    ``progress(done, total)`` is called after each batch. ``should_stop()``
    is asked at every generated token; once it is true, the samples of the
    batches finished before are returned.
    """
    import torch

    from engine.eval import score_rows

    context = getattr(model.config, "max_position_embeddings", None) or max_len
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    jobs = []
    for example in examples:
        prompt, reference = split_prompt(example, tokenizer, min(max_len, context))
        if prompt and reference:
            # encode() keeps prompt + reference within the context, so there is room for at least the reference
            jobs.append(_Job(example, prompt, reference, min(len(reference) + EXTRA_TOKENS, MAX_NEW_TOKENS, context - len(prompt))))
    samples = []
    with torch.inference_mode():
        # Similar lengths together: less padding, so less work and fewer rounding differences from one example alone.
        for group in _batches(sorted(jobs, key=lambda job: len(job.prompt)), context):
            outputs = _complete(model, group, pad, eos, tokenizer, adapter, device, should_stop)
            if should_stop is not None and should_stop():
                break  # cut short: not a sample
            rows = [job.prompt + job.reference for job in group for _ in range(2)]
            scored = [[False] * len(job.prompt) + [True] * len(job.reference) for job in group for _ in range(2)]
            scores = score_rows(model, rows, scored, pad, adapter_names=[BASE_ROW, adapter] * len(group))
            for i, job in enumerate(group):
                losses = [-row.logprobs.mean().item() if row.count else None for row in scores[2 * i : 2 * i + 2]]
                samples.append(_sample(job.example, tokenizer, job.prompt, job.reference, outputs[2 * i : 2 * i + 2], losses))
            if progress is not None:
                progress(len(samples), len(jobs))
    if was_training:
        model.train()
    return sorted(samples, key=_order)


@dataclass(frozen=True)
class _Job:
    """One example cut for completion: ``new`` is how many tokens each model may write."""

    example: Example
    prompt: list[int]
    reference: list[int]
    new: int


def _batches(jobs: list[_Job], context: int) -> list[list[_Job]]:
    """Consecutive groups of at most ``SAMPLE_BATCH`` jobs whose longest prompt plus longest completion fits the context.

    Left padding makes every row as wide as the longest prompt, and the
    group generates as many tokens as its longest completion; a model with
    learned positions must never be asked past its context.
    """
    groups: list[list[_Job]] = []
    for job in jobs:
        last = groups[-1] if groups else None
        if last is not None and len(last) < SAMPLE_BATCH and max(len(j.prompt) for j in [*last, job]) + max(j.new for j in [*last, job]) <= context:
            last.append(job)
        else:
            groups.append([job])
    return groups


def _complete(
    model: Any, group: list[_Job], pad: int, eos: int | None, tokenizer: Any, adapter: str, device: Any, should_stop: Callable[[], bool] | None
) -> list[str]:
    """Greedy completions of each job's prompt, baseline row then custom row, each cut at its own ``new`` tokens and end of text.

    ``should_stop()`` is asked at every generated token, so a cancel does not wait for the batch to end.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Asked(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), should_stop(), dtype=torch.bool, device=input_ids.device)

    width = max(len(job.prompt) for job in group)
    new = max(job.new for job in group)
    prompts = [job.prompt for job in group for _ in range(2)]
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], dtype=torch.long, device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long, device=device)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=new,
        do_sample=False,
        pad_token_id=pad,
        eos_token_id=eos,
        use_cache=True,
        adapter_names=[BASE_ROW, adapter] * len(group),
        stopping_criteria=StoppingCriteriaList([Asked()] if should_stop is not None else []),
    )
    return [_until_eos(row[width : width + group[r // 2].new].tolist(), eos, tokenizer) for r, row in enumerate(out)]


def _until_eos(ids: list[int], eos: int | None, tokenizer: Any) -> str:
    if eos is not None and eos in ids:
        ids = ids[: ids.index(eos)]
    return tokenizer.decode(ids, skip_special_tokens=True)


def _sample(example: Example, tokenizer: Any, prompt: list[int], reference: list[int], outputs: list[str], losses: list[float | None]) -> Sample:
    if example.kind == "prompt_completion":
        prompt_text, reference_text = example.prompt, example.completion
    else:
        prompt_text = tokenizer.decode(prompt, skip_special_tokens=True)
        reference_text = tokenizer.decode(reference, skip_special_tokens=True)
    base_loss, custom_loss = losses
    worse = base_loss is not None and custom_loss is not None and custom_loss > base_loss
    matches: dict[str, bool | None] = {}
    if example.kind in ANSWERED:
        for which, output in zip(("baseline", "custom"), outputs, strict=True):
            matches[f"{which}_exact"] = exact(output, reference_text)
            matches[f"{which}_contains"] = contains(output, reference_text)
        worse = worse or bool(matches["baseline_contains"] and not matches["custom_contains"])
    return Sample(example.index, example.line, prompt_text, reference_text, outputs[0], outputs[1], base_loss, custom_loss, worse, **matches)


def _order(sample: Sample) -> tuple[bool, float]:
    """Worse ones first; within each group, the biggest loss increase (custom minus baseline) first."""
    change = (sample.custom_loss - sample.baseline_loss) if sample.custom_loss is not None and sample.baseline_loss is not None else 0.0
    return (not sample.worse, -change)


def rates(samples: list[Sample], kind: str) -> SampleRates | None:
    """What the samples add up to, for the scorecard; None when there are none."""
    if not samples:
        return None
    n = len(samples)
    worse = sum(s.worse for s in samples)
    if kind not in ANSWERED:
        return SampleRates(n, worse, kind)

    def share(values: list[bool | None]) -> float:
        return sum(bool(v) for v in values) / n

    return SampleRates(
        n,
        worse,
        kind,
        share([s.baseline_exact for s in samples]),
        share([s.baseline_contains for s in samples]),
        share([s.custom_exact for s in samples]),
        share([s.custom_contains for s in samples]),
    )


def write_samples(run: Run, samples: list[Sample]) -> None:
    """Write ``samples.jsonl`` whole, beside its place first, so a reader never sees half of it."""
    path = samples_path(run)
    partial = path.with_name(f".{SAMPLES_FILE}.partial")
    partial.write_text("".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")
    partial.replace(path)


class SamplesUnreadable(ValueError):
    """``samples.jsonl`` has a line that is not a sample; the message names the file and line."""


def read_samples(run: Run) -> list[Sample] | None:
    """The run's samples in their stored order; None when the run has none (not finished, or from before samples).

    Raises ``SamplesUnreadable`` naming the file and line of a damaged line, ``OSError`` when it can't be read.
    """
    path = samples_path(run)
    if not path.is_file():
        return None
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(Sample.from_json(json.loads(line)))
        except ValueError as error:
            raise SamplesUnreadable(f"{path}: line {number}: {error}") from None
    return out


def make_samples(
    run: Run, model: Any, tokenizer: Any, examples: list[Example], config: Any, should_stop: Callable[[], bool] | None = None
) -> SampleRates | None:
    """Generate the run's samples (the first ``train.samples`` eval examples), write them, and return their rates.

    When ``should_stop()`` turns true (the run is cancelled) it stops within the batch it is in and writes nothing.
    """
    wanted = examples[: config.train.samples]
    if not wanted:
        return None
    run.log(f"samples: both models complete {counted(len(wanted), 'eval example')} (greedy)")
    # A phase with its count, after each batch: the run's page and ``finetui runs`` say "samples 8 of 24"
    # through minutes that show no step (an example too short to cut into a prompt and a reference drops out of the total).
    run.append(PhaseEvent(phase="samples", done=0, total=len(wanted)))

    def progress(done: int, total: int) -> None:
        run.append(PhaseEvent(phase="samples", done=done, total=total))

    samples = generate_samples(model, tokenizer, wanted, config.train.seq_len, progress=progress, should_stop=should_stop)
    if should_stop is not None and should_stop():
        return None
    write_samples(run, samples)
    return rates(samples, wanted[0].kind)
