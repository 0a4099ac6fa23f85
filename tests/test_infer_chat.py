"""Chat templates end to end on a tiny instruct-style model: what training renders is what the playground sends.

The model is tests/tiny_model.py's Llama with a Phi-3-style template whose
turns end with ``<|end|>``, a special token that is not end-of-sequence, so
stopping at the end of turn is the template's doing. One run is trained in
this module (a short chat of fixed answers, so greedy decoding learns to
close its turn) and shared by the tests.
"""

from __future__ import annotations

import json

import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.data import Example, Message
from engine.infer.protocol import Done, GenerateRequest, Start, Turn
from engine.infer.session import InferenceSession
from engine.runs import RunStore
from engine.train import templates
from engine.train.tokenize import IGNORE, encode
from tests.tiny_model import make_model
from tui.cli import main

END = "<|end|>"
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}" + END + "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SYSTEM = "answer in one word"
#: The answer to every question: one token, so a few steps teach the model to say it and close its turn.
ANSWER = "do"
QUESTIONS = ["the quick brown fox?", "a journey of miles?", "to be or not?", "all that glitters?"]


def _instruct_model(out):
    """tests/tiny_model.py's model with an end-of-turn special token and the template above."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    make_model(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.add_special_tokens({"additional_special_tokens": [END]})
    tokenizer.chat_template = TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(out)
    model.resize_token_embeddings(len(tokenizer))
    end = tokenizer.convert_tokens_to_ids(END)
    with torch.no_grad():  # a row like the others (a resize gives the mean one, which a LoRA hardly learns to pick)
        for weights in (model.get_input_embeddings().weight, model.get_output_embeddings().weight):
            weights[end] = torch.randn(weights.shape[1], generator=torch.Generator().manual_seed(0)) * model.config.initializer_range
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _chat(question: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}, {"role": "assistant", "content": ANSWER}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    model = _instruct_model(root / "instruct")
    data = root / "chat.jsonl"
    data.write_text("\n".join(json.dumps(_chat(q + f" {i}")) for i in range(10) for q in QUESTIONS))
    store = RunStore(root / "home" / "runs")
    fields = {"max_steps": 50, "lr": 3e-2, "batch_size": 8, "seq_len": 64, "save_steps": 1000}
    if "samples" in TrainConfig.__dataclass_fields__:
        fields["samples"] = 0
    run = store.create(RunConfig("chat", DataConfig(str(data)), ModelConfig(str(model)), train=TrainConfig(**fields)))
    from engine.train.finetune import fit, prepare

    session = prepare(run)
    assert fit(session, __import__("threading").Event()) == "ready"
    return {"model": model, "store": store, "run": run, "root": root}


@pytest.fixture(scope="module")
def session(world):
    s = InferenceSession(world["store"])
    s.attach(world["run"].id)
    return s


@pytest.mark.slow
def test_the_run_saves_the_template_it_trained_with_and_records_the_choice(world):
    run = world["run"]
    assert (run.adapter_dir / templates.TEMPLATE_FILE).read_text() == TEMPLATE
    assert run.config().data.chat_template == "off"  # chat data: a template always; no prompt/completion pairs to render


@pytest.mark.slow
def test_the_playground_renders_the_prompt_exactly_as_training_did(world, session):
    """Training's ids of a conversation start with the playground's prompt for its beginning, and what the
    custom model is trained to write begins right where that prompt ends, through the end-of-turn token."""
    example = Example(0, 1, "messages", messages=(Message("system", SYSTEM), Message("user", "the quick brown fox?"), Message("assistant", ANSWER)))
    trained = encode(example, session.tokenizer, 10**6)
    request = GenerateRequest(run=world["run"].id, messages=(Turn("system", SYSTEM), Turn("user", "the quick brown fox?")), models=("baseline", "custom"))
    run = session.find_run(world["run"].id)
    for which in ("baseline", "custom"):
        prompt = session.row_prompt(request, which, run)
        assert trained.input_ids[: len(prompt.ids)] == prompt.ids
        first_trained = next(i for i, label in enumerate(trained.labels) if label != IGNORE)
        assert first_trained == len(prompt.ids), "the generation prompt is context; the answer is learned from its first token"
        end = session.tokenizer.convert_tokens_to_ids(END)
        assert prompt.end_ids == {end} and end in trained.labels
        assert prompt.text.endswith("<|user|>\nthe quick brown fox?<|end|><|assistant|>\n")


@pytest.mark.slow
def test_a_chat_answer_streams_and_stops_at_the_end_of_turn(world, session):
    events: list = []
    request = GenerateRequest(run=world["run"].id, messages=(Turn("system", SYSTEM), Turn("user", "to be or not? 3")),
                              models=("baseline", "custom"), temperature=0, max_tokens=24)
    session.generate(request, events.append)
    start = {e.model: e for e in events if isinstance(e, Start)}
    done = {e.model: e for e in events if isinstance(e, Done)}
    assert start["custom"].prompt == start["baseline"].prompt and "<|assistant|>" in (start["custom"].prompt or "")
    assert done["custom"].finish_reason == "eos" and done["custom"].text.strip() == ANSWER, done["custom"]
    assert done["custom"].tokens < 24


@pytest.mark.slow
def test_each_model_goes_on_from_its_own_replies(world, session):
    turns = (Turn("user", "the quick brown fox?"), Turn("assistant", "", (("baseline", "cat"), ("custom", "dog"))), Turn("user", "and then?"))
    request = GenerateRequest(run=world["run"].id, messages=turns, models=("baseline", "custom"))
    run = session.find_run(world["run"].id)
    baseline, custom = (session.row_prompt(request, which, run) for which in ("baseline", "custom"))
    assert "cat" in baseline.text and "dog" not in baseline.text and "dog" in custom.text
    events: list = []
    session.generate(GenerateRequest(**{**request.__dict__, "temperature": 0, "max_tokens": 4}), events.append)
    assert {e.model for e in events if isinstance(e, Done)} == {"baseline", "custom"}


@pytest.mark.slow
def test_cli_generate_chat_shows_the_rendered_prompt(world, monkeypatch, capsys):
    monkeypatch.setenv("FINETUI_HOME", str(world["root"] / "home"))
    code = main(["generate", world["run"].id, "--chat", "--system", SYSTEM, "--prompt", "all that glitters? 5", "--show-prompt",
                 "--temperature", "0", "-n", "24"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"<|system|>\n{SYSTEM}{END}<|user|>\nall that glitters? 5{END}<|assistant|>\n" in out
    assert out.count("prompt · as") == 1, "both models read the same prompt: shown once"
    assert "ended (end of sequence)" in out


@pytest.mark.slow
def test_cli_system_without_chat_is_one_line_and_exit_2(world, monkeypatch, capsys):
    monkeypatch.setenv("FINETUI_HOME", str(world["root"] / "home"))
    assert main(["generate", world["run"].id, "--system", "x", "--prompt", "y"]) == 2
    assert "--system needs --chat" in capsys.readouterr().err


def test_a_base_model_without_a_template_trains_and_answers_with_the_default_one(tmp_path):
    """resolve picks the documented default; the adapter folder keeps it; for_run reads it back."""
    from transformers import AutoTokenizer

    from tests.tiny_model import make_tokenizer

    make_tokenizer(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    tokenizer.chat_template = None
    chosen = templates.resolve("auto", {"messages"}, tokenizer)
    assert chosen.text == templates.DEFAULT_TEMPLATE and chosen.source == "default"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    templates.save(adapter, chosen)
    assert templates.for_run(adapter, "off", tokenizer) == chosen
    assert templates.end_of_turn(tokenizer, chosen.text) == ({tokenizer.eos_token_id}, ())


@pytest.mark.parametrize(
    ("setting", "own", "kinds", "prompts", "text"),
    [
        ("auto", True, {"prompt_completion"}, True, True),  # an instruct model: pairs as chats
        ("auto", False, {"prompt_completion"}, False, False),  # a base model: pairs as plain text
        ("on", False, {"prompt_completion"}, True, True),  # forced: the default template
        ("off", True, {"prompt_completion"}, False, False),
        ("off", True, {"messages"}, False, True),  # chats always use one
        ("on", True, {"text"}, False, False),  # plain text never does
    ],
)
def test_which_template_a_run_uses(tmp_path, setting, own, kinds, prompts, text):
    from tests.tiny_model import make_tokenizer

    tokenizer = make_tokenizer(tmp_path)
    if not own:
        tokenizer.chat_template = None
    chosen = templates.resolve(setting, kinds, tokenizer)
    assert chosen.prompts is prompts and (chosen.text is not None) is text
