"""The pretraining corpus: cleaning the public-domain books, and the held-out split.

``prepare`` turns the books as found (``/work/shared/data/corpus-v2``) into the
copies kept in ``sample_data/corpus-v2``; run it once with
``python -m engine.pretrain.corpus SRC DST --blocklist``. Training reads the
cleaned copies only, so the model is reproducible from the repository alone.

Pure Python: no torch here.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from engine.pretrain.blocklist import Blocklist, drop_paragraphs, load_blocklist

#: Lines that open Project Gutenberg's licence header (everything up to and including them goes).
_HEADER_END = re.compile(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG.*$", re.MULTILINE | re.IGNORECASE)
#: Lines that open Project Gutenberg's licence footer (they and everything after go).
_FOOTER_START = re.compile(r"^(\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG|End of (the )?Project Gutenberg)", re.MULTILINE | re.IGNORECASE)
#: The transcriber's credit that Gutenberg puts right after the header.
_PRODUCED_BY = re.compile(r"\A\s*Produced by [^\n]*(\n[^\n]+)*\n", re.IGNORECASE)
#: UTF-8 text that was once decoded as Windows-1252 ("Ã©" for "é").
_MOJIBAKE = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u2122]{1,3}")
#: More than two blank lines in a row.
_BLANK_RUN = re.compile(r"\n{4,}")


@dataclass(frozen=True)
class CleanReport:
    """What ``clean_book`` removed or repaired, for SOURCES.md and the log."""

    header_chars: int
    footer_chars: int
    repaired: int
    dedented: bool
    dropped: int = 0  # paragraphs with a blocklisted word


def strip_gutenberg(text: str) -> tuple[str, int, int]:
    """The text without Project Gutenberg's header and footer, and how many characters each had."""
    header = 0
    start = _HEADER_END.search(text)
    if start:
        header = start.end()
        text = text[start.end() :]
        produced = _PRODUCED_BY.match(text)
        if produced:
            header += produced.end()
            text = text[produced.end() :]
    footer = 0
    end = _FOOTER_START.search(text)
    if end:
        footer = len(text) - end.start()
        text = text[: end.start()]
    return text, header, footer


def repair_mojibake(text: str) -> tuple[str, int]:
    """Undo UTF-8 read as Windows-1252 ("Ã©" back to "é"); returns the text and the repair count."""
    count = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal count
        try:
            fixed = match.group().encode("cp1252").decode("utf-8")
        except UnicodeError:
            return match.group()
        count += 1
        return fixed

    # "à" is C3 A0, and the A0 (a no-break space) was turned into a plain space.
    text, n = re.subn(r"\u00c3 ", "à", text)
    count += n
    return _MOJIBAKE.sub(fix, text), count


def clean_book(text: str) -> tuple[str, CleanReport]:
    """Strip the licence boilerplate and normalise layout, leaving the book's own words."""
    text = text.replace("\r\n", "\n")
    text, header, footer = strip_gutenberg(text)
    text, repaired = repair_mojibake(text)
    lines = [line.rstrip() for line in text.split("\n")]
    filled = [line for line in lines if line]
    # One file indents every line by a space; drop that common margin.
    dedented = bool(filled) and sum(line.startswith(" ") for line in filled) > 0.9 * len(filled)
    if dedented:
        lines = [line[1:] if line.startswith(" ") else line for line in lines]
    text = _BLANK_RUN.sub("\n\n\n", "\n".join(lines)).strip("\n") + "\n"
    return text, CleanReport(header, footer, repaired, dedented)


def prepare(src: Path, dst: Path, blocklist: Blocklist | None = None) -> dict[str, CleanReport]:
    """Clean every ``*.txt`` book in ``src`` into ``dst``; returns what was done to each.

    With a ``blocklist``, paragraphs that contain one of its words are dropped,
    so the model never reads a word that its card's check looks for.
    """
    dst.mkdir(parents=True, exist_ok=True)
    done = {}
    for path in sorted(src.glob("*.txt")):
        text, report = clean_book(path.read_text(encoding="utf-8"))
        if blocklist is not None:
            text, dropped = drop_paragraphs(text, blocklist)
            report = replace(report, dropped=dropped)
        (dst / path.name).write_text(text, encoding="utf-8")
        done[path.name] = report
    return done


def read_books(folder: Path) -> dict[str, str]:
    """The cleaned books in ``folder``, by file name, in name order."""
    books = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}
    if not books:
        raise FileNotFoundError(f"no .txt books in {folder}")
    return books


def split_book(text: str, heldout_fraction: float) -> tuple[str, str]:
    """Train text and held-out text: the held-out part is the book's last share, cut at a paragraph."""
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be between 0 and 1, not {heldout_fraction}")
    cut = int(len(text) * (1 - heldout_fraction))
    paragraph = text.find("\n\n", cut)
    if paragraph != -1:
        cut = paragraph + 2
    return text[:cut], text[cut:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.pretrain.corpus",
        description=(
            "Copy Project Gutenberg books into DST without their licence header and footer "
            "(and, with --blocklist, without the paragraphs that hold a blocklisted word)."
        ),
    )
    parser.add_argument("src", type=Path, help="folder of .txt books as downloaded")
    parser.add_argument("dst", type=Path, help="folder for the cleaned copies")
    parser.add_argument("--blocklist", action="store_true", help="also drop every paragraph with a word of the blocklist (engine/pretrain/blocklist.py)")
    args = parser.parse_args(argv)
    blocklist = load_blocklist() if args.blocklist else None
    for name, r in prepare(args.src, args.dst, blocklist).items():
        print(
            f"{name}: header {r.header_chars:,} chars, footer {r.footer_chars:,} chars stripped; "
            f"{r.repaired} encoding repairs; {'one-space margin removed' if r.dedented else 'layout kept'}"
            + (f"; {r.dropped} paragraphs with a blocklisted word dropped" if blocklist else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
