"""What the engine's errors carry besides their words: a code to branch on and a hint at the setting that fixes them.

The engine knows which setting fixes a problem (``model.trust_remote_code``),
not how a front end spells it: the CLI says "pass --trust-remote-code", the
TUI marks the field. So an error names the setting by its path in
``RunConfig`` and each front end words the hint itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """The setting a user can change to fix an error: its path, the value that fixes it if one does, and when."""

    setting: str
    """A ``section.name`` path in ``RunConfig``, e.g. ``model.quant``."""
    value: object = None
    """The value that fixes it (``True``, ``"none"``), or None when any valid value would do."""
    when: str = ""
    """The condition or purpose a front end adds to its wording, e.g. "if you trust it"."""

    def plain(self) -> str:
        """The hint in the config's own terms, for text that outlives the front end (a run's failure reason)."""
        what = f"set {self.setting}" if self.value is None else f"set {self.setting} to {self.value!r}"
        return f"{what} {self.when}".strip()


class FinetuiError(Exception):
    """An error a user can fix: ``message`` says what is wrong, ``code`` names the kind, ``hint`` the fix.

    ``str()`` adds the hint in the config's terms, for places that only show
    text; the CLI and the TUI read ``message`` and ``hint`` and word the hint
    in their own terms.
    """

    def __init__(self, message: str, code: str, hint: Hint | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}; {self.hint.plain()}"
