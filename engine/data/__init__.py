"""The data engine: read a user's training file, split it into examples, report problems.

Public API (the CLI and the TUI use only these names):

- ``DataSpec``: which file, which format (``None`` detects it), which separator,
  which column mapping.
- ``FORMATS``: what a user may force: a file format (txt, json, jsonl, csv,
  tsv, parquet) or a record layout (text, prompt_completion, messages,
  sharegpt, alpaca, qa, preference).
- ``detect_format(spec)``: the format that will be used, or ``DataError``.
- ``iter_examples(spec)``: stream the examples, lazily, so the first ones of a
  1 GB file arrive at once.
- ``scan(spec, ...)``: stream the whole file and build a ``Report``.
- ``split_examples(spec, ...)``: the seeded train/eval split as lists.
- ``DataError``: bad input, as one line naming file, line and field.
- ``Cancelled``: raised by ``scan`` when ``should_stop()`` turns true.

Each name is imported when first used (PEP 562), so that ``engine.data.names``
or ``engine.data.display`` can be read without loading the parsers: the
TUI's first screen needs only the format names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.data.errors import DataError
    from engine.data.examples import Example, Message
    from engine.data.formats import DataSpec, detect_format, iter_examples
    from engine.data.names import FORMATS
    from engine.data.report import DataWarning, LengthStats, Report
    from engine.data.scanner import Cancelled, scan
    from engine.data.split import split_examples

#: Where each public name lives.
_HOMES = {
    "FORMATS": "names",
    "Cancelled": "scanner",
    "DataError": "errors",
    "DataSpec": "formats",
    "DataWarning": "report",
    "Example": "examples",
    "LengthStats": "report",
    "Message": "examples",
    "Report": "report",
    "detect_format": "formats",
    "iter_examples": "formats",
    "scan": "scanner",
    "split_examples": "split",
}

__all__ = [
    "FORMATS",
    "Cancelled",
    "DataError",
    "DataSpec",
    "DataWarning",
    "Example",
    "LengthStats",
    "Message",
    "Report",
    "detect_format",
    "iter_examples",
    "scan",
    "split_examples",
]


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
