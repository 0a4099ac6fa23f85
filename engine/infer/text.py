"""Generated tokens to streamed text: incremental decoding, and stop sequences cut out.

Pure Python over a ``decode(ids) -> str`` function, so it is tested without a
model. Each token costs two decodes of a few tokens (not of the whole output):
the window starts at the previous emitted boundary, as in text-generation-
inference, so a word's leading space and multi-byte characters come out right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"
#: Prompt tokens kept as decoding context: a first token's leading space depends on what precedes it.
CONTEXT_TOKENS = 4


class TextTracker:
    """Follows the generated tokens of one sequence; ``pending()`` gives the text safe to show.

    Text that might be the start of a stop sequence is held back until it is
    clear it is not; once a stop sequence appears, the text ends just before
    it and ``stopped`` is true. What ``pending()`` and ``finish()`` return,
    concatenated, is ``text``.
    """

    def __init__(self, decode: Callable[[list[int]], str], context: Sequence[int] = (), stops: Sequence[str] = ()) -> None:
        self._decode = decode
        self._ids = list(context[-CONTEXT_TOKENS:]) if context else []
        self._prefix = 0
        self._read = len(self._ids)
        self._stops = [s for s in stops if s]
        self._longest = max((len(s) for s in self._stops), default=0)
        self._sent = 0
        #: Tokens added so far (the generated ones, those after a stop included).
        self.tokens = 0
        #: The generated text so far, cut before the first stop sequence.
        self.text = ""
        #: Whether a stop sequence has appeared.
        self.stopped = False
        #: Which stop sequence ended the text.
        self.stop_sequence: str | None = None

    @property
    def has_stops(self) -> bool:
        """Whether there are stop sequences to look for (if not, nobody needs to feed it early)."""
        return bool(self._stops)

    def add(self, token_id: int) -> None:
        self.tokens += 1
        if self.stopped:
            return
        self._ids.append(int(token_id))
        self._advance(final=False)

    def _advance(self, final: bool) -> None:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        # A trailing U+FFFD is half a multi-byte character: wait for its other bytes.
        if len(after) > len(before) and (final or not after.endswith(REPLACEMENT)):
            self._append(after[len(before) :])
            self._prefix, self._read = self._read, len(self._ids)

    def _append(self, delta: str) -> None:
        start = max(0, len(self.text) - self._longest + 1)
        self.text += delta
        hits = [(i, s) for s in self._stops if (i := self.text.find(s, start)) >= 0]
        if hits:
            at, stop = min(hits)
            self.text = self.text[:at]
            self.stopped, self.stop_sequence = True, stop

    def _held_back(self) -> int:
        """Characters at the end of the text that could begin a stop sequence."""
        for n in range(min(self._longest - 1, len(self.text)), 0, -1):
            tail = self.text[-n:]
            if any(s.startswith(tail) for s in self._stops):
                return n
        return 0

    def pending(self) -> str:
        """The text not yet returned that is safe to show now."""
        safe = len(self.text) if self.stopped else len(self.text) - self._held_back()
        if safe <= self._sent:
            return ""
        out = self.text[self._sent : safe]
        self._sent = safe
        return out

    def finish(self) -> str:
        """After the last token: decode what was left undecoded, return all text not yet returned."""
        if not self.stopped and self._read < len(self._ids):
            self._advance(final=True)
        out = self.text[self._sent :]
        self._sent = len(self.text)
        return out


def token_texts(decode: Callable[[list[int]], str], ids: Sequence[int], context: Sequence[int] = ()) -> list[str]:
    """Each token's exact text as it reads after ``context`` and the tokens before it; joined, the text.

    Decoding a token alone loses what depends on its neighbours: a
    SentencePiece tokenizer drops a word's leading space at the start of what
    it decodes, and a byte-level token can be half of a character. Here each
    token gets what it adds to the decoded text, so a word's leading space
    stays at the front of its token; a token that ends inside a character
    gets "" and the one that completes it gets the whole character.
    """
    tracker = TextTracker(decode, context)
    pieces = []
    for token in ids:
        tracker.add(token)
        pieces.append(tracker.pending())
    if pieces:
        pieces[-1] += tracker.finish()
    return pieces


def incremental_text(decode: Callable[[list[int]], str], ids: Sequence[int], context: Sequence[int] = (), stops: Sequence[str] = ()) -> tuple[list[str], str]:
    """The pieces a tracker emits for ``ids`` and its final text (for tests and benchmarks)."""
    tracker = TextTracker(decode, context, stops)
    pieces = []
    for token in ids:
        tracker.add(token)
        if piece := tracker.pending():
            pieces.append(piece)
    if piece := tracker.finish():
        pieces.append(piece)
    return pieces, tracker.text
