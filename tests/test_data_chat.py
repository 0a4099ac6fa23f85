"""The chat-data checks of OpenAI's fine-tuning data-prep guide, one fixture file each.

Each file in tests/fixtures/chat_checks holds a good conversation on line 1
and the faulty one on line 2, so every warning must name example 1 (or line
2, for a dropped example) and an error must name line 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, iter_examples, scan

CHECKS = Path(__file__).parent / "fixtures" / "chat_checks"

#: fixture -> (warning code, where: "index" when the example is kept, "line" when it is dropped)
WARNINGS = {
    "empty_content": ("empty_content", "index"),
    "missing_content": ("empty_content", "index"),
    "unknown_key": ("unknown_key", "index"),
    "system_not_first": ("system_not_first", "index"),
    "same_role_twice": ("same_role_twice", "index"),
    "ends_on_user": ("ends_on_user", "index"),
    "no_user": ("no_user", "index"),
    "escaped_newlines": ("escaped_newlines", "index"),
    "no_trained_tokens": ("no_trained_tokens", "index"),
    "no_assistant": ("no_assistant", "line"),
}


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_check_warns_and_names_the_example(name: str) -> None:
    code, where = WARNINGS[name]
    report = scan(DataSpec(CHECKS / f"{name}.jsonl"))
    warning = report.warning(code)
    assert warning is not None and warning.count == 1, [w.code for w in report.warnings]
    assert warning.lines == [2]
    if where == "index":
        assert warning.indices == [1] and "(example 1)" in warning.describe()
    else:
        assert warning.indices == [] and "(line 2)" in warning.describe() and report.examples == 1
    # The good conversation on line 1 raises nothing of the kind.
    others = {w.code for w in report.warnings} - {code, "too_small", "no_eval_split"}
    assert not others, others


def test_an_unknown_role_is_an_error_naming_line_and_field() -> None:
    with pytest.raises(DataError) as err:
        scan(DataSpec(CHECKS / "unknown_role.jsonl"))
    assert err.value.line == 2 and err.value.field == "messages[0].role" and "'narrator'" in str(err.value)


def test_every_fixture_is_covered() -> None:
    assert {p.stem for p in CHECKS.glob("*.jsonl")} == set(WARNINGS) | {"unknown_role"}


def test_role_aliases_are_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "cohere.jsonl"
    path.write_text('{"messages": [{"role": "System", "content": "s"}, {"role": "User", "content": "u"}, {"role": "Chatbot", "content": "c"}]}\n')
    (example,) = iter_examples(DataSpec(path))
    assert [m.role for m in example.messages] == ["system", "user", "assistant"]
