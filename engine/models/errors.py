"""The one exception the model layer raises for problems a user can fix."""

from __future__ import annotations


class ModelError(Exception):
    """A model that cannot be found, downloaded or loaded, as one line a user can act on.

    ``code`` names the kind of problem for callers that branch on it:
    ``not_found``, ``offline``, ``hub``, ``not_a_model``, ``remote_code``,
    ``quantization``, ``load``.
    """

    def __init__(self, message: str, code: str = "load") -> None:
        super().__init__(message)
        self.code = code
