"""The playground's request checks and streamed text: no model needed (the tiny tokenizer at most)."""

from __future__ import annotations

import random

import pytest

from engine.infer.requests import (
    MODELS,
    GenerateRequest,
    RequestError,
    Text,
    parse_generate,
    parse_likelihood,
    parse_load,
)
from engine.infer.text import REPLACEMENT, incremental_text, token_texts


def _decoder(tokenizer):
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# -- requests ---------------------------------------------------------------------------------


def test_generate_defaults_and_both_models_with_a_run():
    req = parse_generate({"prompt": "hi", "run": "r1"})
    assert req == GenerateRequest(prompt="hi", run="r1", models=MODELS)
    assert not req.greedy
    assert parse_generate({"prompt": "hi"}).models == ("baseline",)
    assert parse_generate({"prompt": "hi", "temperature": 0}).greedy
    req = parse_generate({"prompt": "hi", "run": "r", "models": "custom", "stop": "\n", "seed": 7, "max_tokens": 3})
    assert (req.models, req.stop, req.seed, req.max_tokens) == (("custom",), ("\n",), 7, 3)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "missing field 'prompt'"),
        ({"prompt": "   "}, "the prompt is empty"),
        ({"prompt": 3}, "'prompt' must be a string"),
        ({"prompt": "x", "max_tokens": 0}, "max_tokens must be at least 1"),
        ({"prompt": "x", "max_tokens": -5}, "max_tokens must be at least 1"),
        ({"prompt": "x", "max_tokens": 2.5}, "'max_tokens' must be an integer"),
        ({"prompt": "x", "max_tokens": True}, "'max_tokens' must be an integer"),
        ({"prompt": "x", "temperature": -1}, "temperature must be between 0"),
        ({"prompt": "x", "top_k": -1}, "top_k must be 0"),
        ({"prompt": "x", "top_p": 0}, "top_p must be in (0, 1]"),
        ({"prompt": "x", "seed": -1}, "seed must be between"),
        ({"prompt": "x", "stop": [""]}, "'stop' must be a non-empty string"),
        ({"prompt": "x", "stop": ["a"] * 17}, "at most 16 stop sequences"),
        ({"prompt": "x", "models": ["custom"]}, "'custom' needs a 'run'"),
        ({"prompt": "x", "models": ["teacher"], "run": "r"}, "unknown model 'teacher'"),
        ({"prompt": "x", "run": " "}, "'run' is empty"),
    ],
)
def test_generate_rejects(fields, message):
    with pytest.raises(RequestError) as caught:
        parse_generate(fields)
    assert message in str(caught.value)
    assert caught.value.code == "bad_request"


def test_likelihood_text_prompt_and_texts():
    req = parse_likelihood({"text": " Harrowick.", "prompt": "Capital:", "run": "r"})
    assert req.texts == (Text(" Harrowick.", "Capital:"),) and req.models == MODELS
    req = parse_likelihood({"texts": ["a b", {"text": "c", "prompt": "p"}]})
    assert req.texts == (Text("a b"), Text("c", "p")) and req.models == ("baseline",)
    for bad, message in [
        ({}, "missing field 'text'"),
        ({"text": ""}, "empty"),
        ({"texts": []}, "non-empty list"),
        ({"texts": [3]}, "texts[0] must be a string"),
        ({"text": "x", "prompt": 5}, "'prompt' must be a string"),
    ]:
        with pytest.raises(RequestError, match=None) as caught:
            parse_likelihood(bad)
        assert message in str(caught.value), (bad, str(caught.value))


def test_load_needs_a_run():
    assert parse_load({"run": "r", "replace": True}).replace
    with pytest.raises(RequestError, match="missing field 'run'"):
        parse_load({})


# -- streamed text ----------------------------------------------------------------------------


def test_pieces_add_up_to_the_decoded_text(tokenizer):
    decode = _decoder(tokenizer)
    words = "the quick brown fox jumps over the lazy dog, a journey of miles. 日本 café — naïve\n".split(" ")
    rng = random.Random(0)
    for _ in range(30):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        context = _ids(tokenizer, "to be or not")
        ids = _ids(tokenizer, text)
        pieces, full = incremental_text(decode, ids, context)
        assert "".join(pieces) == full == decode(context + ids)[len(decode(context)) :]
        # Half a multi-byte character is never shown: it waits for its other bytes.
        assert not any(REPLACEMENT in piece for piece in pieces)


def test_stop_sequence_ends_the_text_and_is_left_out(tokenizer):
    decode = _decoder(tokenizer)
    ids = _ids(tokenizer, "the quick brown fox jumps over the lazy dog")
    for stop, expected in [("brown", "the quick "), ("k br", "the quic"), ("dog", "the quick brown fox jumps over the lazy ")]:
        pieces, text = incremental_text(decode, ids, stops=[stop, "never"])
        assert text == expected and "".join(pieces) == expected
    # The earliest stop wins, whichever is listed first.
    _, text = incremental_text(decode, ids, stops=["lazy", "fox"])
    assert text == "the quick brown "


def test_text_that_only_looks_like_a_stop_is_held_back_then_shown(tokenizer):
    decode = _decoder(tokenizer)
    ids = _ids(tokenizer, "the fox jumps over the fox")
    pieces, text = incremental_text(decode, ids, stops=["fox!"])
    assert text == "the fox jumps over the fox" == "".join(pieces)
    # No piece ends inside "fox" while it could still become "fox!".
    shown = ""
    for piece in pieces[:-1]:
        shown += piece
        assert not shown.endswith(("f", "fo", "fox"))


def test_client_server_module_and_cli_import_no_model_stack():
    """The TUI imports the client (and the CLI its command) without paying for torch."""
    import json
    import subprocess
    import sys

    from engine.paths import REPO_ROOT

    script = (
        "import json, sys, engine.infer.client, engine.infer.server, tui.commands.playground, tui.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers', 'peft', 'bitsandbytes'})))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# -- each scored token's exact text -----------------------------------------------------------


def _sentencepiece_like():
    """A Llama-style tokenizer (Metaspace, byte fallback): decoding one token alone drops its leading space."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.tiny_model import CORPUS

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tok.train_from_iterator([CORPUS * 20], trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _exact_decoder(tokenizer):
    """As the session decodes scored tokens: special ones (byte tokens here) kept, no space clean-up."""
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


@pytest.mark.parametrize("kind", ["byte-level", "sentencepiece"])
def test_token_texts_read_as_written_with_each_space_before_its_word(tokenizer, kind):
    tok = tokenizer if kind == "byte-level" else _sentencepiece_like()
    text = "to be or not to be, that is the café"
    ids = _ids(tok, text)
    pieces = token_texts(_exact_decoder(tok), ids)
    assert "".join(pieces) == text and len(pieces) == len(ids)
    assert " be" in pieces and "be " not in pieces, "a word's leading space is at the front of its token"
    if kind == "sentencepiece":
        assert "".join(tok.batch_decode([[i] for i in ids])) != text, "decoded alone, the tokens lose their spaces"
    # A character split over byte tokens: the first bytes show nothing, the last the whole character.
    accent = [p for p in pieces if "é" in p]
    assert accent == [pieces[-1]] and pieces[-1].endswith("é")


def test_token_texts_after_a_context_keep_the_first_space(tokenizer):
    context, text = _ids(tokenizer, "to be or not to be,"), " that is the question."
    pieces = token_texts(_exact_decoder(tokenizer), _ids(tokenizer, text), context)
    assert "".join(pieces) == text and pieces[0] == " that"
