"""The one error an export raises for anything a user can fix: its message is one line."""

from __future__ import annotations

from engine.errors import FinetuiError


class ExportError(FinetuiError):
    """An export that can't be done or failed its round-trip check; ``code`` says which
    (``not_ready``, ``exists``, ``disk``, ``offline``, ``unsupported``, ``convert``, ``check``)."""
