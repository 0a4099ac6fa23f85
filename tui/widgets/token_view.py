"""Text coloured token by token by how likely a model found each token.

Each token shows its exact text as it reads in the scored text (the engine
decodes it in context, ``engine.infer.text.token_texts``), so the coloured
text reads as written: a word's leading space is at the front of its token.
A red background is a token the model did not expect, green one it was
sure of. Two views of the same text side by side (baseline and custom)
wrap identically, because both models share the tokenizer, so the eye can
go straight to where the custom model is more sure.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.color import Color
from textual.content import Content, Span
from textual.style import Style
from textual.widgets import Static

from engine.infer.protocol import TokenScore

#: Log-probabilities at or below this are drawn fully red; 0 (certainty) is fully green.
LOWEST = -10.0
#: The stops shown in the legend.
LEGEND_STOPS = (-10.0, -7.5, -5.0, -2.5, 0.0)
_TEXT = Color(255, 255, 255)


def visible(text: str, mark_newlines: bool = True) -> str:
    """``text`` with control characters drawn as symbols, so a token of one never vanishes.

    A newline stays a line break, after a ``↵`` that shows where it is in a
    token view (``mark_newlines``).
    """
    out = []
    for char in text:
        if char == "\n":
            out.append("↵\n" if mark_newlines else "\n")
        elif char == "\t":
            out.append("→")
        elif ord(char) < 0x20:
            out.append(chr(0x2400 + ord(char)))  # the Unicode "control pictures" block
        elif char == "\x7f":
            out.append("␡")
        else:
            out.append(char)
    return "".join(out)


def logprob_color(logprob: float, shade: bool = False) -> Color:
    """Red for ``LOWEST`` and below, through yellow, to green for 0; ``shade`` is a touch darker.

    Every other token is shaded, so neighbours of about the same log-prob
    still show where one token ends and the next begins.
    """
    share = min(max(1.0 - logprob / LOWEST, 0.0), 1.0)
    return Color.from_hsl(share * 120 / 360, 0.6, 0.25 if shade else 0.32)


def token_style(logprob: float, shade: bool = False) -> Style:
    return Style(background=logprob_color(logprob, shade), foreground=_TEXT)


def legend() -> Content:
    """One line naming the colour scale: a swatch per stop with its log-probability."""
    parts = [Content("log-prob ")]
    for stop in LEGEND_STOPS:
        label = f" {stop:g} " if stop > LOWEST else f" ≤{stop:g} "
        parts.append(Content(label, spans=[Span(0, len(label), token_style(stop))]))
        parts.append(Content(" "))
    parts.append(Content("(higher: the model was surer)"))
    return Content("").join(parts)


def token_content(tokens: Sequence[TokenScore]) -> Content:
    """The tokens' text, one span per token, each with its log-probability's colour.

    A token with no text of its own (the first bytes of a character that the
    next token completes) gets an empty span: showing a mark for it would put
    a character into the text that is not there.
    """
    pieces: list[str] = []
    spans: list[Span] = []
    offset = 0
    for n, token in enumerate(tokens):
        text = visible(token.text)
        pieces.append(text)
        logprob = token.logprob if token.logprob is not None else LOWEST  # None: not finite, so minus infinity
        spans.append(Span(offset, offset + len(text), token_style(logprob, shade=n % 2 == 1)))
        offset += len(text)
    return Content("".join(pieces), spans=spans)


class TokenView(Static):
    """One model's scored tokens, coloured; ``show`` replaces them."""

    def show(self, tokens: Sequence[TokenScore]) -> None:
        self.update(token_content(tokens))
