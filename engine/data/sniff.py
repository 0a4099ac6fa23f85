"""Guess the separator of a plain-text file: a marker line that repeats and cuts the file in pieces.

People separate examples with lines like ``--SEPARATOR--``, ``--``, ``###``,
``***`` or ``<|endoftext|>``. Read without a separator, such a file becomes
packed paragraphs that still hold the markers, and nothing would say so;
the sniffer finds the marker so the report can suggest ``--separator``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.data.reader import iter_lines

#: How much of the file is read to find the marker.
SNIFF_CHARS = 8 * 1024 * 1024
#: Longest line that can be a marker.
MAX_MARKER = 40
#: Fewest pieces that make a marker worth suggesting.
MIN_PIECES = 3
#: A marker has no spaces and starts and ends with punctuation (``--SEPARATOR--``, ``<|endoftext|>``, ``###``),
#: so a speaker's name (``GLOUCESTER:``) or a heading is not taken for one.
_MARKER = re.compile(r"^[^\w\s](\S*[^\w\s])?$")
#: Distinct candidate lines tracked at most, so a file of many short odd lines costs little.
MAX_CANDIDATES = 2000


@dataclass(frozen=True)
class Suggestion:
    """A marker line found in the file, and how many non-empty pieces it cuts the file into."""

    separator: str
    pieces: int

    def describe(self) -> str:
        """What was found; each front end adds where the separator goes (``separator_suggested``)."""
        return f"looks separated by `{self.separator}` ({self.pieces:,} pieces)"


class _Candidate:
    __slots__ = ("count", "pieces", "content_at_last")

    def __init__(self) -> None:
        self.count = 0
        self.pieces = 0
        self.content_at_last = 0


def sniff_separator(path: Path) -> Suggestion | None:
    """The marker line that splits ``path`` into the most pieces, or None when there is none.

    A marker is a whole line (spaces around it ignored) of up to 40
    characters, with no spaces, starting and ending with punctuation, that occurs at least
    twice with text between its occurrences, cutting the file into at least
    three pieces. Reads at most the first 8 MB.
    """
    candidates: dict[str, _Candidate] = {}
    content = 0  # non-blank, non-marker lines seen so far
    read = 0
    for _, text in iter_lines(path):
        read += len(text)
        line = text.strip()
        if line and len(line) <= MAX_MARKER and _MARKER.match(line):
            candidate = candidates.get(line)
            if candidate is None and len(candidates) < MAX_CANDIDATES:
                candidate = candidates[line] = _Candidate()
            if candidate is not None:
                if content > candidate.content_at_last:
                    candidate.pieces += 1
                candidate.count += 1
                candidate.content_at_last = content
        elif line:
            content += 1
        if read > SNIFF_CHARS:
            break
    best: tuple[int, str] | None = None
    for line, candidate in candidates.items():
        pieces = candidate.pieces + (1 if content > candidate.content_at_last else 0)
        if candidate.count >= 2 and pieces >= MIN_PIECES and pieces * 2 > candidate.count and (best is None or pieces > best[0]):
            best = (pieces, line)
    return None if best is None else Suggestion(best[1], best[0])
