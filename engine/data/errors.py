"""The one error type the data engine raises for bad input.

Every problem with a user's file becomes a ``DataError`` that renders as a
single line naming the file and, where known, the line and the field, so the
CLI and the TUI can show it as is, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Bad input data: ``str()`` gives ``path:line: field 'x' is missing``.

    ``message`` completes the sentence after the field's name when there is
    one ("is missing", "must be a string, not a number").
    """

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        code: str = "invalid",
    ) -> None:
        self.path = Path(path)
        self.message = message
        self.line = line
        self.field = field
        self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        what = self.message if self.field is None else f"field '{self.field}' {self.message}"
        return f"{where}: {what}"

    def to_json(self) -> dict[str, object]:
        """The error as the ``--json`` report lists it."""
        return {
            "code": self.code,
            "message": str(self),
            "file": str(self.path),
            "line": self.line,
            "field": self.field,
        }
