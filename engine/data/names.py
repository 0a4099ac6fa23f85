"""The names a user may give ``--format``: file formats and record layouts.

Apart from the parsers so that a screen can list them without importing
the data engine (the TUI's first paint lists them).
"""

#: File formats.
FILE_FORMATS = ("txt", "jsonl", "json", "csv", "tsv", "parquet")
#: Record layouts a user may force with ``--format``, besides the file formats (the file format is then detected).
SHAPES = ("text", "prompt_completion", "messages", "sharegpt", "alpaca", "qa", "preference")
#: Everything ``--format`` takes.
FORMATS = FILE_FORMATS + SHAPES
