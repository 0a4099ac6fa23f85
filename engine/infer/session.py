"""One loaded base model and any number of run adapters: generations and log-likelihoods, baseline and custom.

The base model is loaded once, quantized as the runs were trained (their
``model.name``, ``model.quant``, ``trust_remote_code``). Each run's adapter is
attached under its own name. A request computes every model it asks for in
one batch, a row per model, with peft's mixed-adapter batches
(``adapter_names``): the baseline's row has adapters off (``__base__``), a
custom model's row has its run's adapter on. Both models then stream
together, at about the cost of one. A run trained on another base model is
refused with ``base_mismatch`` unless the caller asks to ``replace`` the base.

Text is formatted as training formats it: ``bos + prompt`` is what a model
continues, and ``bos + prompt + completion`` (or ``bos + text``) is what it
scores. A chat (``messages``), and the prompt of a run whose prompt/completion
pairs trained as chats, is rendered with the chat template the run trained
with (``engine.train.templates.for_run``) and its generation prompt, exactly
as training rendered it, and the answer ends at the template's end of turn.

A/B: ``versus`` names a second run on the same base model; its row has its
adapter on, beside the first run's (``custom``), in the same batch. Two runs
on different base models are refused (``base_mismatch``). Rows whose prompts
differ (each run's own template, each model's own earlier replies) are
left-padded to one width.

torch, transformers and peft are imported when first needed.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cpu_share import PLAYGROUND_LOCK, TRAIN_LOCK, ThreadShare, holding
from engine.infer.protocol import (
    Averages,
    Done,
    GenerateRequest,
    LikelihoodRequest,
    Reply,
    RequestError,
    Scores,
    Start,
    Text,
    TextScores,
    Token,
    TokenScore,
    finite,
)
from engine.infer.requests import VERSUS
from engine.models import ModelError, load_model, resolve_model
from engine.runs import Run, RunNotFound, RunStore
from engine.train.templates import RunTemplate, TemplateError, end_of_turn, for_run, prompt_ids, template_or_default

Emit = Callable[[Reply], None]
#: Logits computed per scoring batch, at most (rows x width x vocabulary): 512 MiB in float32.
LOGITS_BUDGET = 2**27
#: Rows per scoring batch, at most.
MAX_BATCH_ROWS = 32
#: peft's name for a batch row with every adapter off (``adapter_names``): the baseline's rows.
BASE_ROW = "__base__"


@dataclass(frozen=True)
class BaseModel:
    """The loaded base model: the name a run config gives, where it is, how it was loaded."""

    name: str
    path: Path
    quant: str
    trust_remote_code: bool = False

    def describe(self) -> str:
        return f"{self.name} ({self.quant})"


@dataclass(frozen=True)
class RowPrompt:
    """What one model of a generation reads: the prompt's text and ids, and where its answer ends."""

    text: str
    ids: list[int]
    #: Tokens that end the answer besides end-of-sequence: the chat template's end of turn.
    end_ids: frozenset[int] = frozenset()
    #: Stop strings of a template that ends its turns with plain text.
    stops: tuple[str, ...] = ()


@dataclass(frozen=True)
class Encoded:
    """A text as token ids; tokens from ``first_scored`` on are scored, the ones before are context."""

    ids: list[int]
    first_scored: int


class InferenceSession:
    """The model the playground serves. Not thread-safe: one request at a time."""

    def __init__(self, store: RunStore | None = None, device: str | None = None) -> None:
        self.store = store or RunStore()
        self.device = device
        self.base: BaseModel | None = None
        self.model: Any = None
        self.tokenizer: Any = None
        #: run id -> peft adapter name, in the order they were attached.
        self.adapters: dict[str, str] = {}
        #: run id -> the chat template it trained with.
        self.templates: dict[str, RunTemplate] = {}
        #: Called with a description before a model loads (it can take a while).
        self.on_loading: Callable[[str], None] | None = None
        #: One CPU thread while a run trains on this machine (see ``engine.cpu_share``).
        self.cpu = ThreadShare(TRAIN_LOCK)

    # -- loading -----------------------------------------------------------------------------

    @property
    def context_length(self) -> int | None:
        """How many positions the model reads (``max_position_embeddings``), None if it does not say."""
        config = getattr(self.model, "config", None)
        value = getattr(config, "max_position_embeddings", None)
        return int(value) if isinstance(value, int) and value > 0 else None

    def load_base(self, name: str, quant: str = "4bit", trust_remote_code: bool = False) -> BaseModel:
        """Load a base model (dropping the one loaded, and its adapters)."""
        try:
            resolved = resolve_model(name)
        except ModelError as exc:
            raise RequestError(str(exc), "model") from None
        if self.on_loading:
            self.on_loading(f"{name} ({quant})")
        self.model = self.tokenizer = None
        self.adapters = {}
        self.templates = {}
        self.base = None
        try:
            loaded = load_model(name, quant=quant, device=self.device, trust_remote_code=trust_remote_code, resolved=resolved)  # type: ignore[arg-type]
        except ModelError as exc:
            raise RequestError(str(exc), "model") from None
        loaded.model.eval()
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.base = BaseModel(name, resolved.path, quant, trust_remote_code)
        self._warm_up()
        return self.base

    def _warm_up(self) -> None:
        """A two-token generation through the request path, so that the first request does not pay for
        what is imported or set up on first use (peft, the hooks, kernels)."""
        self.generate(GenerateRequest(prompt="a", max_tokens=2, temperature=0, seed=0), lambda event: None)

    def find_run(self, ref: str) -> Run:
        try:
            return self.store.get(ref)
        except RunNotFound as exc:
            raise RequestError(str(exc), "unknown_run") from None

    def _same_base(self, name: str, quant: str) -> bool:
        assert self.base is not None
        return _same_model(name, quant, self.base.name, self.base.quant, self.base.path)

    def attach(self, ref: str, replace: bool = False) -> Run:
        """Make run ``ref``'s custom model available: load its base model if needed, attach its adapter."""
        run = self.find_run(ref)
        if run.id in self.adapters:
            return run
        if not (run.adapter_dir / "adapter_config.json").is_file():
            from engine.runs.process import refresh

            state = refresh(run).state
            if state == "ready":  # its adapter folder was deleted: resume refuses ready runs
                raise RequestError(f"run {run.id} is ready but its adapter folder is missing; train it again, or pick another run", "not_ready")
            hints = {"queued": "wait until it is ready", "training": "wait until it is ready", "broken": "remove it, or pick a ready run"}
            hint = hints.get(state, "resume it, or pick a ready run")
            raise RequestError(f"run {run.id} has no adapter yet: it is {state}; {hint}", "not_ready")
        try:
            from engine.models.check import check_adapter

            check_adapter(run.adapter_dir, f"the adapter of run {run.id}")  # safetensors only, never pickled weights
            config = run.config()
            cfg = config.model
        except (ModelError, ValueError) as exc:
            raise RequestError(str(exc), "model") from None
        if self.base is None or (replace and not self._same_base(cfg.name, cfg.quant)):
            self.load_base(cfg.name, cfg.quant, cfg.trust_remote_code)
        elif not self._same_base(cfg.name, cfg.quant):
            raise RequestError(
                f"run {run.id} was trained on {cfg.name} ({cfg.quant}), but {self.base.describe()} is loaded; "
                "load it with replace, or start another playground",
                "base_mismatch",
            )
        self._load_adapter(run)
        self.templates[run.id] = for_run(run.adapter_dir, config.data.chat_template, self.tokenizer)
        return run

    def _load_adapter(self, run: Run) -> None:
        name = self._adapter_name(run.id)
        if self.on_loading:
            self.on_loading(f"adapter of run {run.id}")
        try:
            with _base_weights_kept(self.model):
                self._attach_adapter(run, name)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            if name in getattr(self.model, "peft_config", {}):
                self.model.delete_adapter(name)  # half-loaded
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RequestError(f"cannot load the adapter of run {run.id}: {first}", "model") from None
        self.model.eval()
        self.adapters[run.id] = name

    def _attach_adapter(self, run: Run, name: str) -> None:
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(run.adapter_dir), adapter_name=name, is_trainable=False)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(run.adapter_dir), adapter_name=name, is_trainable=False)

    def _adapter_name(self, run_id: str) -> str:
        """A peft adapter name for a run id: module names may not contain dots."""
        stem = re.sub(r"\W", "_", run_id)
        name, n = stem, 1
        while name in self.adapters.values():
            n += 1
            name = f"{stem}_{n}"
        return name

    def prepare(self, run: str | None) -> Run | None:
        """Everything a request needs loaded: the run's adapter when it names one, else any base model."""
        if run is not None:
            return self.attach(run)
        if self.model is None:
            raise RequestError("no model loaded: name a run (or start the server with --model)", "no_model")
        return None

    def prepare_pair(self, run: str | None, versus: str | None) -> tuple[Run | None, Run | None]:
        """``prepare``, and for A/B the second run's adapter too, once both are known to share a base model."""
        if versus is None:
            return self.prepare(run), None
        assert run is not None
        a, b = self.find_run(run), self.find_run(versus)
        if a.id == b.id:
            raise RequestError(f"A and B are the same run ({a.id}): pick two runs, or compare one with its baseline")
        try:
            ma, mb = a.config().model, b.config().model
        except ValueError as exc:
            raise RequestError(str(exc), "model") from None
        try:
            path = resolve_model(ma.name, download=False).path
        except ModelError:
            path = None
        if not _same_model(mb.name, mb.quant, ma.name, ma.quant, path):
            raise RequestError(
                f"runs {a.id} and {b.id} were trained on different base models ({ma.name} {ma.quant}, {mb.name} {mb.quant}); "
                "A/B compares two runs of the same base model",
                "base_mismatch",
            )
        return self.attach(a.id), self.attach(b.id)

    @contextmanager
    def _computing(self) -> Iterator[None]:
        """While a request computes: one CPU thread beside a training run, and the playground's lock
        held, so that the run takes one thread in turn (see ``engine.cpu_share``)."""
        if getattr(getattr(self.model, "device", None), "type", None) == "cpu":
            self.cpu.update()
        with holding(PLAYGROUND_LOCK):
            yield

    @contextmanager
    def serving(self, which: str, run: Run | None) -> Iterator[Any]:
        """The model as ``which`` alone: the baseline (adapters off) or ``run``'s custom model (its adapter on).

        Requests batch both models instead (``adapter_names``); this is for a
        plain one-model ``generate`` to compare with, as the benchmarks do.
        """
        from peft import PeftModel

        peft = isinstance(self.model, PeftModel)
        if which == "baseline":
            if peft:
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model
            return
        assert run is not None and peft
        self.model.set_adapter(self.adapters[run.id], inference_mode=True)
        yield self.model

    # -- text --------------------------------------------------------------------------------

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _bos(self) -> list[int]:
        return [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []

    def encode_prompt(self, prompt: str) -> list[int]:
        """What a model continues: ``bos + prompt``, as training saw the start of an example."""
        return self._bos() + self._ids(prompt)

    def encode_text(self, text: Text) -> Encoded:
        """``bos + text`` scored from the first text token, or ``bos + prompt + text`` scored on ``text``."""
        context = self._bos() + (self._ids(text.prompt) if text.prompt else [])
        ids = context + self._ids(text.text)
        # Without a bos, a text's first token has nothing before it to be predicted from.
        return Encoded(ids, max(len(context), 1))

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _eos_ids(self) -> set[int]:
        found: set[int] = set()
        for value in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(value, int):
                found.add(value)
            elif isinstance(value, (list, tuple)):
                found.update(int(v) for v in value)
        return found

    # -- generation --------------------------------------------------------------------------

    def template_for(self, which: str, run: Run | None, versus: Run | None = None) -> RunTemplate:
        """The chat template ``which`` reads its prompt with: a run's own; for the baseline, that of the run
        it is compared with (both models get the same prompt), else the model's own or the default."""
        if which == VERSUS and versus is not None:
            return self.templates[versus.id]
        if run is not None and run.id in self.templates:
            return self.templates[run.id]
        text, source = template_or_default(self.tokenizer)
        return RunTemplate(text, False, source)

    def row_prompt(self, req: GenerateRequest, which: str, run: Run | None, versus: Run | None = None) -> RowPrompt:
        """What ``which`` reads for ``req``: a chat rendered with its template and generation prompt, a prompt
        rendered as a user turn when its run trained prompt/completion pairs as chats, else ``bos + prompt``."""
        template = self.template_for(which, run, versus)
        if req.messages:
            turns = [t.for_model(which) for t in req.messages]
        elif template.prompts:
            turns = [{"role": "user", "content": req.prompt}]
        else:
            return RowPrompt(req.prompt, self.encode_prompt(req.prompt))
        assert template.text is not None
        try:
            text, ids = prompt_ids(self.tokenizer, template.text, turns)
            end_ids, stops = end_of_turn(self.tokenizer, template.text)
        except TemplateError as exc:  # the model's template refused the chat: the request's problem, said in one line
            raise RequestError(str(exc), "template") from None
        return RowPrompt(text, ids, frozenset(end_ids), stops)

    def generate(self, req: GenerateRequest, emit: Emit, cancel: threading.Event | None = None) -> None:
        """Stream a completion from each requested model, all in one batch: a ``start`` per model, then
        their ``token`` events interleaved as the rows advance together, and each model's ``done`` when it ends."""
        run, versus = self.prepare_pair(req.run, req.versus)
        cancel = cancel or threading.Event()
        prompts = [self.row_prompt(req, which, run, versus) for which in req.models]
        longest = max(len(p.ids) for p in prompts)
        context = self.context_length
        max_new, limit = req.max_tokens, "length"
        if context is not None:
            if longest >= context:
                raise RequestError(f"the prompt is {longest} tokens; the model reads at most {context}, so no room is left to generate", "too_long")
            if longest + max_new > context:
                max_new, limit = context - longest, "context"
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        with self._computing():
            if cancel.is_set():
                return
            for which, prompt in zip(req.models, prompts, strict=True):
                emit(Start(model=which, run=_run_id(which, run, versus), prompt_tokens=len(prompt.ids), max_tokens=max_new, seed=seed, prompt=prompt.text))
            self._generate_rows(run, versus, prompts, max_new, limit, req, seed, emit, cancel)

    def _generate_rows(self, run: Run | None, versus: Run | None, prompts: list[RowPrompt], max_new: int, limit: str,
                       req: GenerateRequest, seed: int, emit: Emit, cancel: threading.Event) -> None:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from engine.infer.hooks import BatchStreamer, Row, RowSampler, StopRows
        from engine.infer.text import TextTracker

        started = time.perf_counter()
        eos_ids = self._eos_ids()

        def on_text(which: str) -> Callable[[str], None]:
            return lambda text: emit(Token(model=which, text=text))

        def on_end(row: Row) -> None:
            emit(self._done_event(row, run, versus, max_new, limit, seed, started, cancel))

        rows = [
            Row(which, TextTracker(self._decode, p.ids, (*req.stop, *p.stops)), eos_ids | p.end_ids, on_text(which), on_end)
            for which, p in zip(req.models, prompts, strict=True)
        ]
        device = self.model.device if hasattr(self.model, "device") else "cpu"
        # Rows of different lengths are padded on the left; generate takes each row's positions from its mask.
        width = max(len(p.ids) for p in prompts)
        pad = next((i for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if i is not None), 0)
        input_ids = torch.tensor([[pad] * (width - len(p.ids)) + p.ids for p in prompts], dtype=torch.long, device=device)
        mask = torch.tensor([[0] * (width - len(p.ids)) + [1] * len(p.ids) for p in prompts], dtype=torch.long, device=device)
        settings: dict[str, Any] = {"do_sample": False}
        if not req.greedy:
            sampler = RowSampler(len(rows), seed, req.temperature, req.top_k, req.top_p)
            settings["logits_processor"] = LogitsProcessorList([sampler])
        adapters = self._adapter_names(req.models, run, versus)
        if adapters is not None:
            settings["adapter_names"] = adapters
        # inference_mode rather than generate's own no_grad: no autograd bookkeeping on any tensor, which on a
        # small model (where each layer's cost is mostly per-op overhead) makes a step about a tenth faster.
        with torch.inference_mode():
            self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new,
                pad_token_id=self.tokenizer.pad_token_id,
                use_cache=True,
                streamer=BatchStreamer(rows),
                stopping_criteria=StoppingCriteriaList([StopRows(rows, width, cancel)]),
                **settings,
            )

    def _adapter_names(self, models: tuple[str, ...] | list[str], run: Run | None, versus: Run | None = None) -> list[str] | None:
        """peft's ``adapter_names`` for one batch row per model: ``__base__`` (adapters off) for the baseline,
        the run's adapter for the custom model (and the second run's for ``versus``); None when no adapter
        was ever attached (a plain model)."""
        from peft import PeftModel

        if not isinstance(self.model, PeftModel):
            return None
        by_model = {"baseline": BASE_ROW}
        if run is not None:
            by_model["custom"] = self.adapters[run.id]
        if versus is not None:
            by_model[VERSUS] = self.adapters[versus.id]
        return [by_model[which] for which in models]

    def _done_event(self, row: Any, run: Run | None, versus: Run | None, max_new: int, limit: str, seed: int, started: float,
                    cancel: threading.Event) -> Done:
        """The protocol's ``done`` for a row that has ended."""
        tracker = row.tracker
        new = len(row.generated)
        if tracker.stopped:
            reason = "stop"
        elif row.eos:
            reason = "eos"
        elif cancel.is_set() and new < max_new:
            reason = "cancelled"
        else:
            reason = limit
        seconds = (row.ended_at or time.perf_counter()) - started
        first = row.first_token_at
        return Done(
            model=row.which,
            run=_run_id(row.which, run, versus),
            text=tracker.text,
            tokens=new - (1 if row.eos else 0),
            finish_reason=reason,
            stop=tracker.stop_sequence,
            seed=seed,
            seconds=round(seconds, 4),
            time_to_first_token_s=round(first - started, 4) if first else None,
            tokens_per_s=round(new / seconds, 2) if seconds > 0 and new else None,
        )

    # -- likelihood --------------------------------------------------------------------------

    def likelihood(self, req: LikelihoodRequest, emit: Emit, cancel: threading.Event | None = None) -> None:
        """Score the texts with each requested model: one ``scores`` event per model."""
        run, versus = self.prepare_pair(req.run, req.versus)
        encoded = [self.encode_text(t) for t in req.texts]
        context = self.context_length
        for i, (text, enc) in enumerate(zip(req.texts, encoded, strict=True)):
            where = "the text" if len(encoded) == 1 else f"texts[{i}]"
            if context is not None and len(enc.ids) > context:
                whole = " with its prompt" if text.prompt else ""
                raise RequestError(f"{where} is {len(enc.ids)} tokens{whole}; the model reads at most {context}", "too_long")
            if enc.first_scored >= len(enc.ids):
                raise RequestError(f"{where} has no token to score", "bad_request")
        with self._computing():
            scored = self.score(encoded, req.models, run, cancel, versus)
        for which, texts in zip(req.models, scored, strict=True):
            emit(Scores(model=which, run=_run_id(which, run, versus), averages=_summary(texts), texts=tuple(texts)))

    def score(self, encoded: list[Encoded], models: tuple[str, ...] | list[str] = ("baseline",), run: Run | None = None,
              cancel: threading.Event | None = None, versus: Run | None = None) -> list[list[TextScores]]:
        """Each text's scored tokens (text, id, log-prob, rank) and averages, for each of ``models``.

        A row per text and model, in padded batches sorted by length: the
        baseline's and the custom model's rows of a text go in the same batch,
        side by side (peft's ``adapter_names``), so both cost about one pass.
        """
        import torch

        from engine.eval import score_rows

        vocab = int(getattr(self.model.config, "vocab_size", 0) or len(self.tokenizer))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        adapters = self._adapter_names(models, run, versus)
        rows = sorted(((t, m) for t in range(len(encoded)) for m in range(len(models))), key=lambda r: len(encoded[r[0]].ids))
        results: list[list[TextScores | None]] = [[None for _ in encoded] for _ in models]
        pieces = [self._token_texts(e) for e in encoded]
        start = 0
        with torch.inference_mode():
            while start < len(rows):
                if cancel is not None and cancel.is_set():
                    raise RequestError("cancelled", "cancelled")
                # Grow the batch while its logits stay within budget (rows are sorted, so the last is the widest).
                end = start + 1
                while end < len(rows) and end - start < MAX_BATCH_ROWS and (end - start + 1) * len(encoded[rows[end][0]].ids) * vocab <= LOGITS_BUDGET:
                    end += 1
                batch = rows[start:end]
                texts = [encoded[t] for t, _ in batch]
                scored = [[i >= e.first_scored for i in range(len(e.ids))] for e in texts]
                extra = {"adapter_names": [adapters[m] for _, m in batch]} if adapters is not None else {}
                for (t, m), row in zip(batch, score_rows(self.model, [e.ids for e in texts], scored, pad, **extra), strict=True):
                    results[m][t] = _text_scores(pieces[t], row.targets.tolist(), row.logprobs.tolist(), row.ranks.tolist())
                start = end
        return [[scored for scored in texts if scored is not None] for texts in results]

    def _token_texts(self, encoded: Encoded) -> list[str]:
        """The exact text of each scored token, read in its context (see ``engine.infer.text.token_texts``).

        Special tokens are decoded too (a "<s>" typed in the text shows as
        such), but the context leaves out the bos before the text: it is not
        part of what was written.
        """
        from engine.infer.text import token_texts

        special = set(self.tokenizer.all_special_ids)
        context = [i for i in encoded.ids[: encoded.first_scored] if i not in special]

        def decode(ids: list[int]) -> str:
            return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

        return token_texts(decode, encoded.ids[encoded.first_scored :], context)


def _run_id(which: str, run: Run | None, versus: Run | None) -> str | None:
    """The run whose adapter a model's row has on: ``run`` for custom, ``versus`` for versus, none for the baseline."""
    chosen = run if which == "custom" else versus if which == VERSUS else None
    return chosen.id if chosen is not None else None


def _same_model(name: str, quant: str, other: str, other_quant: str, other_path: Path | None) -> bool:
    """Whether ``name`` in ``quant`` is the model ``other`` (at ``other_path``) in ``other_quant``."""
    if quant != other_quant:
        return False
    if name == other:
        return True
    if other_path is None:
        return False
    try:
        return resolve_model(name, download=False).path.resolve() == other_path.resolve()
    except ModelError:
        return False


def _text_scores(pieces: list[str], ids: list[int], logprobs: list[float], ranks: list[int]) -> TextScores:
    tokens = tuple(TokenScore(t, i, finite(lp), r) for t, i, lp, r in zip(pieces, ids, logprobs, ranks, strict=True))
    return TextScores(Averages.of(sum(logprobs), len(ids)), tokens)


@contextmanager
def _base_weights_kept(model: Any) -> Iterator[None]:
    """Put every 4-bit base weight back as it was after the block, bit for bit.

    On a CPU with AVX512-BF16, bitsandbytes repacks a 4-bit weight for its
    fast kernel on the first forward pass in eval mode, and unpacks it whenever
    a state dict is taken, as peft does when it loads an adapter. Unpacking
    quantizes the block scales again, which is lossy: without this, each
    adapter loaded would nudge the baseline's outputs.
    """
    try:
        from bitsandbytes.nn import Linear4bit
    except Exception:  # no bitsandbytes: no 4-bit layers either
        yield
        return
    kept = []
    for module in model.modules():
        if isinstance(module, Linear4bit) and getattr(module.weight, "quant_state", None) is not None:
            kept.append((module, module.weight.data, copy.copy(module.weight.quant_state)))
    yield
    for module, data, state in kept:
        module.weight.data = data
        module.weight.quant_state = state
        if getattr(module, "quant_state", None) is not None:
            module.quant_state = state


def _summary(scored: list[TextScores]) -> Averages:
    """The averages over all texts: each scored token counts once."""
    total = sum(t.logprob if t.logprob is not None else float("-inf") for s in scored for t in s.tokens)
    return Averages.of(total, sum(s.scored_tokens for s in scored))
