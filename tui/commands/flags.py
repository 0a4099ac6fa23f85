"""The run settings as ``finetui train`` flags, made from ``engine.config``'s field metadata; errors worded with them.

Nothing here names a setting: a field added to the config with a ``flag``
becomes a flag, with its help, type, choices and default.
"""

from __future__ import annotations

import argparse
import dataclasses

from engine.config import ConfigError, SettingField, setting, settings
from engine.errors import FinetuiError, Hint


def dest(s: SettingField) -> str:
    """The attribute argparse stores the flag's value in (``--max-steps``: ``max_steps``)."""
    return s.meta.flag.removeprefix("--").replace("-", "_")


def flagged() -> tuple[SettingField, ...]:
    """The settings that have a flag."""
    return tuple(s for s in settings() if s.meta.flag)


def add_setting_flags(parser: argparse.ArgumentParser, only: tuple[str, ...] = ()) -> None:
    """One flag per setting (or per setting path in ``only``). Each defaults to None, "not given", so the config's default or the chosen one applies."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for s in flagged():
        if only and s.path not in only:
            continue
        target: argparse._ActionsContainer = parser
        if s.meta.exclusive:
            if s.meta.exclusive not in groups:
                groups[s.meta.exclusive] = parser.add_mutually_exclusive_group()
            target = groups[s.meta.exclusive]
        names = [s.meta.flag, *([s.meta.short] if s.meta.short else [])]
        help_text = (s.meta.help + _default_text(s)).replace("%", "%%")
        if s.kind is bool:
            action: type[argparse.Action] | str = "store_true" if s.default is False else argparse.BooleanOptionalAction
            target.add_argument(*names, dest=dest(s), action=action, default=None, help=help_text)
        else:
            target.add_argument(*names, dest=dest(s), type=s.kind, choices=s.meta.choices or None, metavar=s.meta.metavar, default=None, help=help_text)


def _default_text(s: SettingField) -> str:
    if s.meta.default_help:
        return f" (default: {s.meta.default_help})"
    if s.default is None or s.default is dataclasses.MISSING or s.default is False:
        return ""
    if s.default is True:
        return " (default: on)"
    return f" (default: {format(s.default, 'g') if isinstance(s.default, float) else s.default})"


def given(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line, by path."""
    return {s.path: getattr(args, dest(s)) for s in flagged() if getattr(args, dest(s), None) is not None}


def worded(error: BaseException) -> str:
    """An error in the CLI's terms: a bad value and a hint name the flag, not the config path."""
    if isinstance(error, ConfigError):
        s = setting(error.path)
        return error.worded(s.meta.flag) if s is not None and s.meta.flag else str(error)
    if isinstance(error, FinetuiError) and error.hint is not None:
        return f"{error.message}; {hint_text(error.hint)}"
    return str(error)


def hint_text(hint: Hint) -> str:
    """``pass --trust-remote-code if you trust it``; the config path where the setting has no flag."""
    s = setting(hint.setting)
    if s is None or not s.meta.flag:
        return hint.plain()
    if hint.value is None:
        what = f"see {s.meta.flag}"
    elif s.kind is bool:
        off = f"pass --no-{s.meta.flag.removeprefix('--')}" if s.default is True else f"leave out {s.meta.flag}"
        what = f"pass {s.meta.flag}" if hint.value else off
    else:
        what = f"pass {s.meta.flag} {hint.value}"
    return f"{what} {hint.when}".strip()
