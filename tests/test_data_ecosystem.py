"""The ecosystem's training files (tests/fixtures/formats, written to each format's published layout)
parse into the examples training needs, and tools reach the model's chat template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.data import DataError, DataSpec, detect_format, iter_examples, scan
from engine.train.tokenize import IGNORE, TemplateError, encode

FORMATS = Path(__file__).parent / "fixtures" / "formats"

#: file -> (file format, layout, examples, kind of the examples)
EXPECTED = {
    "alpaca_en_demo.json": ("json", "alpaca", 6, {"messages"}),
    "glaive_toolcall_en_demo.json": ("json", "sharegpt", 5, {"messages"}),
    "openai_chat.jsonl": ("jsonl", "messages", 5, {"messages"}),
    "cohere_chat.jsonl": ("jsonl", "messages", 4, {"messages"}),
    "qa.json": ("json", "qa", 5, {"prompt_completion"}),
    "qa.jsonl": ("jsonl", "qa", 5, {"prompt_completion"}),
    "qa.csv": ("csv", "qa", 5, {"prompt_completion"}),
    "qa.tsv": ("tsv", "qa", 5, {"prompt_completion"}),
    "preference_prompt.jsonl": ("jsonl", "preference", 4, {"prompt_completion"}),
    "preference_conversation.jsonl": ("jsonl", "preference", 3, {"messages"}),
    "preference_hh.jsonl": ("jsonl", "preference", 3, {"text"}),
    "chat.parquet": ("parquet", "messages", 4, {"messages"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_published_layout_is_read(name: str) -> None:
    fmt, flavour, count, kinds = EXPECTED[name]
    report = scan(DataSpec(FORMATS / name))
    assert (report.format, report.flavour, report.examples) == (fmt, flavour, count)
    assert {e.kind for e in iter_examples(DataSpec(FORMATS / name))} == kinds
    assert {w.code for w in report.warnings} <= {"too_small", "no_eval_split"}
    assert bool(report.notes) == (flavour in ("preference", "qa"))  # question/answer cells are joined with a newline, and a note says so


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_content_decides_not_the_extension(tmp_path: Path, name: str) -> None:
    renamed = tmp_path / "data.bin"
    renamed.write_bytes((FORMATS / name).read_bytes())
    assert detect_format(DataSpec(renamed)) == EXPECTED[name][0]
    assert sum(1 for _ in iter_examples(DataSpec(renamed))) == EXPECTED[name][2]


def test_alpaca_empty_instruction_with_input_and_history() -> None:
    examples = list(iter_examples(DataSpec(FORMATS / "alpaca_en_demo.json")))
    assert examples[2].messages[0].content.startswith("Summarise in one sentence")  # empty instruction: the input asks
    assert [m.role for m in examples[4].messages] == ["system", "user", "assistant", "user", "assistant"]
    assert examples[5].messages[0].content == "Translate to French.\n\nGood morning, how are you?"


def test_sharegpt_tool_turns_and_tools() -> None:
    first = next(iter(iter_examples(DataSpec(FORMATS / "glaive_toolcall_en_demo.json"))))
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "user", "assistant", "tool", "assistant"]
    call = first.messages[4].tool_calls[0]["function"]
    assert call == {"name": "search_recipes", "arguments": {"ingredients": ["chicken", "bell peppers", "rice"]}}
    assert first.tools[0]["name"] == "search_recipes"


def test_openai_weight_tool_calls_parts_name_and_tools() -> None:
    examples = list(iter_examples(DataSpec(FORMATS / "openai_chat.jsonl")))
    assert [m.weight for m in examples[0].messages if m.role == "assistant"] == [0, 1]
    assert not examples[0].messages[2].trained and examples[0].messages[4].trained
    assert examples[2].messages[0].content == "How far is the Moon from Earth?"
    call = examples[3].messages[1]
    assert call.content == "" and call.tool_calls[0]["function"]["arguments"] == {"location": "San Francisco, USA", "format": "celsius"}
    assert examples[3].messages[2].role == "tool" and examples[3].tools[0]["function"]["name"] == "get_current_weather"
    assert examples[4].messages[1].name == "alice"


def test_preference_trains_on_prompt_and_chosen() -> None:
    first = next(iter(iter_examples(DataSpec(FORMATS / "preference_prompt.jsonl"))))
    assert (first.prompt, first.completion) == ("The sky is", " blue.")
    convo = list(iter_examples(DataSpec(FORMATS / "preference_conversation.jsonl")))
    assert [m.content for m in convo[2].messages] == ["How many days has a week?", "Seven."]
    report = scan(DataSpec(FORMATS / "preference_hh.jsonl"))
    assert "prompt plus the chosen answer" in report.notes[0]


def test_column_mapping(tmp_path: Path) -> None:
    spec = DataSpec(FORMATS / "custom_columns.csv", mapping="prompt=asked,completion=replied")
    first = next(iter(iter_examples(spec)))
    assert (first.prompt, first.completion) == ("What is the capital of Ostrevin?\n", "Halden.")
    with pytest.raises(DataError) as err:
        scan(DataSpec(FORMATS / "custom_columns.csv"))
    assert err.value.line == 1 and str(err.value).endswith("; name the columns with the map, e.g. prompt=asked,completion=replied")
    with pytest.raises(DataError) as err:
        DataSpec(FORMATS / "custom_columns.csv", mapping="prompt")
    assert "FIELD=COLUMN" in str(err.value)


def test_forcing_a_layout(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"instruction": "Say hi", "output": "hi", "text": "ignored"}) + "\n")
    assert next(iter(iter_examples(DataSpec(path, format="alpaca")))).kind == "messages"
    assert next(iter(iter_examples(DataSpec(path, format="text")))).text == "ignored"


def test_parquet_with_the_same_shapes_as_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "qa.parquet"
    pq.write_table(pa.table({"question": ["a?", "b?"], "answer": ["A.", "B."]}), path)
    assert [(e.prompt, e.completion, e.line) for e in iter_examples(DataSpec(path))] == [("a?\n", "A.", 1), ("b?\n", "B.", 2)]


# --- tools through the chat template ----------------------------------------------------------------

TOOLS_TEMPLATE = (
    "{% if tools %}<|tools|>{{ tools | tojson }}</s>{% endif %}"
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
    "{% for c in m.get('tool_calls') or [] %}<call>{{ c['function']['name'] }}{{ c['function']['arguments'] | tojson }}</call>{% endfor %}</s>{% endfor %}"
)


def _tool_example():
    return list(iter_examples(DataSpec(FORMATS / "openai_chat.jsonl")))[3]


def test_tools_go_through_the_template(tokenizer) -> None:
    tokenizer.chat_template = TOOLS_TEMPLATE
    enc = encode(_tool_example(), tokenizer, 2000)
    text = tokenizer.decode(enc.input_ids)
    assert text.startswith("<|tools|>") and "get_current_weather" in text
    learned = tokenizer.decode([t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE])
    assert "<call>get_current_weather" in learned and "21 degrees" in learned
    assert "What is the weather" not in learned and '"temperature": 21' not in learned  # user and tool turns are context


def test_a_template_without_tools_is_a_clear_error(tokenizer) -> None:
    tokenizer.chat_template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    with pytest.raises(TemplateError) as err:
        encode(_tool_example(), tokenizer, 2000)
    assert "example #3 (line 4)" in str(err.value) and "doesn't render tools" in str(err.value)


def test_a_model_without_a_template_gets_the_plain_one(tokenizer) -> None:
    tokenizer.chat_template = None
    first = next(iter(iter_examples(DataSpec(FORMATS / "openai_chat.jsonl"))))
    enc = encode(first, tokenizer, 2000)
    assert tokenizer.decode(enc.input_ids).startswith("System: Marv")
    learned = tokenizer.decode([t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE])
    # the weight-0 turn is context, and so is each turn's "Assistant:" header (the playground writes it into the prompt)
    assert "as if everyone doesn't know" in learned and "Assistant:" not in learned and learned.count("</s>") == 1
