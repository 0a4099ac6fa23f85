"""The names a user may give ``--format`` (file formats and record layouts), and what a data file's name says.

Apart from the parsers so that a screen can list them without importing
the data engine (the TUI's first paint lists them).
"""

from pathlib import Path

#: File formats.
FILE_FORMATS = ("txt", "jsonl", "json", "csv", "tsv", "parquet", "arrow")
#: Record layouts a user may force with ``--format``, besides the file formats (the file format is then detected).
SHAPES = ("text", "prompt_completion", "messages", "sharegpt", "alpaca", "qa", "preference")
#: Everything ``--format`` takes.
FORMATS = FILE_FORMATS + SHAPES
#: Suffixes of the compressions a data file may come in (``data.jsonl.gz``); the reader decompresses them.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")


def _uncompressed(path: Path) -> Path:
    """The file's name once decompressed: ``data.jsonl`` for ``data.jsonl.gz``."""
    return Path(path.stem if path.suffix.lower() in COMPRESSED_SUFFIXES else path.name)


def data_suffix(path: Path) -> str:
    """The suffix that names the file's format, lower case: ``.jsonl`` for ``data.jsonl.gz`` as for ``data.jsonl``."""
    return _uncompressed(path).suffix.lower()


def data_stem(path: Path) -> str:
    """The file's name without its format and compression suffixes: a run's default name (``data`` for ``data.jsonl.gz``)."""
    return _uncompressed(path).stem
