"""The one error type the data engine raises for bad input.

Every problem with a user's file becomes a ``DataError`` that renders as a
single line naming the file and, where known, the line and the field, so the
CLI and the TUI can show it as is, without a traceback.

An error that a column map would fix carries the map that fixes it
(``suggested_map``). The engine says it in neutral words ("name the columns
with the map, e.g. prompt=Frage,completion=Antwort"); a front end that spells the
setting its own way (the CLI's ``--map``) reads ``hint`` and ``located()``
and words the fix itself, as it does for the ``engine.errors.Hint`` of
other errors.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import Hint


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
        suggested_map: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.message = message
        self.line = line
        self.field = field
        self.code = code
        self.suggested_map = suggested_map
        super().__init__(str(self))

    @property
    def hint(self) -> Hint | None:
        """The setting that fixes the error, for front ends that name settings their own way (``--map``)."""
        return None if self.suggested_map is None else Hint("data.mapping", self.suggested_map)

    def located(self) -> str:
        """What is wrong and where, without the fix: a front end adds the fix in its own words."""
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        what = self.message if self.field is None else f"field '{self.field}' {self.message}"
        return f"{where}: {what}"

    def __str__(self) -> str:
        if self.suggested_map is None:
            return self.located()
        return f"{self.located()}; name the columns with the map, e.g. {self.suggested_map}"

    def to_json(self) -> dict[str, object]:
        """The error as the ``--json`` report lists it."""
        return {
            "code": self.code,
            "message": str(self),
            "file": str(self.path),
            "line": self.line,
            "field": self.field,
        }
