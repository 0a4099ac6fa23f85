"""The two hooks finetui puts into transformers' ``generate``: a streamer and a stopping criterion.

Both feed one ``TextTracker``. The criterion sees each new token first in
transformers 5 (older versions streamed first), so whichever runs first adds
the token: the stop check and the text shown never lag a step behind. This
module imports transformers at import time; only the session imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch
from transformers.generation.stopping_criteria import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from engine.infer.text import TextTracker


class _Feed:
    """Adds each generated token to the tracker once, whichever hook sees it first."""

    def __init__(self, tracker: TextTracker, prompt_len: int) -> None:
        self.tracker = tracker
        self.prompt_len = prompt_len

    def catch_up(self, generated: list[int]) -> None:
        for token in generated[self.tracker.tokens :]:
            self.tracker.add(token)


class TokenStreamer(BaseStreamer):
    """Hands the text of each new token (held back near a stop sequence) to ``on_text``, in generate's thread."""

    def __init__(self, feed: _Feed, on_text: Callable[[str], None]) -> None:
        self.feed = feed
        self.on_text = on_text
        self._seen_prompt = False
        self._generated: list[int] = []
        self.first_token_at: float | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self._seen_prompt:  # generate's first put is the prompt itself
            self._seen_prompt = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self._generated.extend(int(t) for t in value.reshape(-1).tolist())
        self.feed.catch_up(self._generated)
        if text := self.feed.tracker.pending():
            self.on_text(text)

    def end(self) -> None:
        if text := self.feed.tracker.finish():
            self.on_text(text)


class StopOnTextOrCancel(StoppingCriteria):
    """Stops when the tracker has seen a stop sequence, or when ``cancel`` is set."""

    def __init__(self, feed: _Feed, cancel: threading.Event) -> None:
        self.feed = feed
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs) -> torch.BoolTensor:
        if self.feed.tracker._stops:
            self.feed.catch_up(input_ids[0, self.feed.prompt_len :].tolist())
        done = self.feed.tracker.stopped or self.cancel.is_set()
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def make_hooks(tracker: TextTracker, prompt_len: int, on_text: Callable[[str], None], cancel: threading.Event) -> tuple[TokenStreamer, StopOnTextOrCancel]:
    feed = _Feed(tracker, prompt_len)
    return TokenStreamer(feed, on_text), StopOnTextOrCancel(feed, cancel)
