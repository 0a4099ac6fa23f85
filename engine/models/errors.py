"""The one exception the model layer raises for problems a user can fix."""

from __future__ import annotations

from engine.errors import FinetuiError, Hint


class ModelError(FinetuiError):
    """A model that cannot be found, downloaded or loaded, as one line a user can act on.

    ``code`` names the kind of problem for callers that branch on it:
    ``not_found``, ``offline``, ``hub``, ``not_a_model``, ``remote_code``,
    ``quantization``, ``load``. ``hint``, where a setting fixes it, names that
    setting; each front end words it (a flag in the CLI, a field in the TUI).
    """

    def __init__(self, message: str, code: str = "load", hint: Hint | None = None) -> None:
        super().__init__(message, code, hint)
