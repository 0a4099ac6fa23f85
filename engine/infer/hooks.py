"""What finetui puts into transformers' ``generate`` for a batch of rows: a streamer, a stopping criterion, a sampler.

A playground generation is one batch: a row per model (the baseline with
adapters off, a run's model with its adapter on), the same prompt in each.
Each row has its own ``TextTracker`` and ends on its own (end of text, a stop
sequence); the others go on. The criterion sees each new token first in
transformers 5 (older versions streamed first), so whichever hook runs first
feeds the token to its row: the stop check and the text shown never lag a
step behind. A row's ``done`` is reported as soon as that row ends.

Sampling is per row, with a generator of its own seeded with the request's
seed, so a row's tokens depend on its model, settings and seed only, not on
which other rows share the batch: the baseline sampled beside the custom
model is the baseline sampled alone. This module imports transformers at
import time; only the session imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers.generation.logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.generation.stopping_criteria import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from engine.infer.text import TextTracker


class Row:
    """One sequence of the batch: its generated tokens, its text, and whether (and when) it ended."""

    def __init__(self, which: str, tracker: TextTracker, eos_ids: set[int], on_text: Callable[[str], None], on_end: Callable[[Row], None]) -> None:
        self.which = which
        self.tracker = tracker
        self.eos_ids = eos_ids
        self.on_text = on_text
        self.on_end = on_end
        #: The tokens this row generated, through its end of text or the token that completed a stop sequence.
        self.generated: list[int] = []
        self.eos = False
        self.ended = False
        self.first_token_at: float | None = None
        self.ended_at: float | None = None

    def catch_up(self, tokens: Sequence[int]) -> None:
        """Take the row's tokens so far (``tokens``, all of them); the new ones go to the tracker."""
        if self.ended:
            return
        for token in tokens[len(self.generated) :]:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self.generated.append(token)
            if token in self.eos_ids:
                self.eos = True
                break
            self.tracker.add(token)
            if self.tracker.stopped:
                break
        if text := self.tracker.pending():
            self.on_text(text)
        if self.eos or self.tracker.stopped:
            self.end()

    def end(self) -> None:
        """The row is over (its end, a stop, the batch's end): its last text, then ``on_end`` once."""
        if self.ended:
            return
        self.ended = True
        self.ended_at = time.perf_counter()
        if text := self.tracker.finish():
            self.on_text(text)
        self.on_end(self)


class BatchStreamer(BaseStreamer):
    """Hands each row's new tokens to it, in generate's thread; ends every row still going at the end."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows
        self._seen_prompt = False
        self._generated: list[list[int]] = [[] for _ in rows]

    def put(self, value: torch.Tensor) -> None:
        if not self._seen_prompt:  # generate's first put is the prompt itself
            self._seen_prompt = True
            return
        for row, seen, token in zip(self.rows, self._generated, value.reshape(len(self.rows), -1).tolist(), strict=True):
            if not row.ended:
                seen.extend(token)
                row.catch_up(seen)

    def end(self) -> None:
        for row in self.rows:
            row.end()


class StopRows(StoppingCriteria):
    """Ends a row once its tracker has seen a stop sequence; ends every row once ``cancel`` is set."""

    def __init__(self, rows: Sequence[Row], prompt_len: int, cancel: threading.Event) -> None:
        self.rows = rows
        self.prompt_len = prompt_len
        self.cancel = cancel
        self._stops = any(row.tracker.has_stops for row in rows)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: Any) -> torch.BoolTensor:
        if self._stops:
            for row, tokens in zip(self.rows, input_ids[:, self.prompt_len :].tolist(), strict=True):
                row.catch_up(tokens)
        if self.cancel.is_set():
            return torch.ones((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)
        return torch.tensor([row.tracker.stopped for row in self.rows], dtype=torch.bool, device=input_ids.device)


class RowSampler(LogitsProcessor):
    """Samples each row's next token with the row's own generator and leaves only that token possible.

    The warpers are transformers' own, in generate's order (temperature,
    top-k, top-p), and the draw is ``torch.multinomial`` as generate draws, so
    a row comes out as a plain sampled ``generate`` after
    ``torch.manual_seed(seed)`` would. Generate runs greedy over what this
    returns, which picks the drawn token.
    """

    def __init__(self, rows: int, seed: int, temperature: float, top_k: int, top_p: float) -> None:
        self.warpers = LogitsProcessorList()
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
        self.rows = rows
        self.seed = seed
        self._generators: list[torch.Generator] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self._generators:
            self._generators = [torch.Generator(device=scores.device).manual_seed(self.seed) for _ in range(self.rows)]
        probs = torch.softmax(self.warpers(input_ids, scores), dim=-1)
        chosen = torch.cat([torch.multinomial(probs[i : i + 1], 1, generator=g) for i, g in enumerate(self._generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen, 0.0)
