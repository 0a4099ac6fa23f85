"""The playground protocol's types: every request and reply survives its JSON line, and the lines are the wire format's.

No model here: the replies are built from the classes, as the session and
the server build them.
"""

from __future__ import annotations

import json

import pytest

from engine.infer.protocol import (
    PROTOCOL,
    REPLIES,
    Averages,
    CancelRequest,
    Done,
    End,
    Error,
    GenerateRequest,
    Info,
    InfoRequest,
    LikelihoodRequest,
    Loaded,
    Loading,
    LoadRequest,
    ModelInfo,
    Ready,
    ReplyError,
    RequestError,
    Scores,
    Start,
    Text,
    TextScores,
    Token,
    TokenScore,
    parse_request,
    reply_from_json,
)

INFO = ModelInfo(model="finetui-tiny", model_path="/m/finetui-tiny", quant="4bit", device="cpu", context=256, adapters=("r1", "r2"))
TOKENS = (TokenScore(" be", 17, -1.25, 1), TokenScore("é", 3, None, 40))
SCORES = Scores(
    id="r3",
    model="custom",
    run="r1",
    averages=Averages.of(-4.5, 2),
    texts=(TextScores(Averages.of(-4.5, 2), TOKENS),),
)
REPLY_EXAMPLES = [
    Ready(pid=42, info=INFO),
    Info(id=7, info=ModelInfo()),
    Loading(id="r1", what="finetui-tiny (4bit)"),
    Loaded(id="r1", run="r1", info=INFO),
    Start(id="r2", model="baseline", run=None, prompt_tokens=5, max_tokens=64, seed=7),
    Token(id="r2", model="custom", text=" fox\n"),
    Done(id="r2", model="custom", run="r1", text=" fox", tokens=2, finish_reason="stop", stop="!", seed=7, seconds=0.5,
         time_to_first_token_s=0.1, tokens_per_s=4.0),
    Done(id="r2", model="baseline", run=None, text="", tokens=0, finish_reason="cancelled", stop=None, seed=0, seconds=0.0,
         time_to_first_token_s=None, tokens_per_s=None),
    SCORES,
    End(id="r2"),
    End(id="c", cancelled=False),
    Error(id=None, code="unknown_run", message="no run 'x'"),
]


def _line(value: dict) -> dict:
    """Through a JSON line and back, as the server writes it (no NaN allowed)."""
    return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))


def test_every_reply_kind_has_an_example():
    assert {type(r) for r in REPLY_EXAMPLES} == set(REPLIES.values())


@pytest.mark.parametrize("reply", REPLY_EXAMPLES, ids=lambda r: r.KIND)
def test_replies_survive_their_json_line(reply):
    assert reply_from_json(_line(reply.to_json())) == reply


def test_reply_lines_are_the_protocols():
    """The keys each line carries are those of protocol 1 (see ``engine.infer``): old readers read new lines."""
    ready = Ready(pid=42, info=INFO).to_json()
    assert ready == {"id": None, "event": "ready", "pid": 42, "protocol": PROTOCOL, "model": "finetui-tiny",
                     "model_path": "/m/finetui-tiny", "quant": "4bit", "device": "cpu", "context": 256, "adapters": ["r1", "r2"]}
    assert End(id="g").to_json() == {"id": "g", "event": "end"}
    assert End(id="c", cancelled=True).to_json() == {"id": "c", "event": "end", "cancelled": True}
    assert Error(id=1, code="bad_json", message="m").to_json() == {"id": 1, "event": "error", "code": "bad_json", "message": "m"}
    about = Error(id=2, code="bad_request", message="top_k must be 0 (off) or more, not -1", field="top_k")
    assert about.to_json()["field"] == "top_k" and reply_from_json(about.to_json()) == about
    scores = SCORES.to_json()
    assert list(scores) == ["id", "event", "model", "run", "avg_logprob", "perplexity", "scored_tokens", "texts"]
    assert scores["texts"][0]["tokens"][1] == {"text": "é", "id": 3, "logprob": None, "rank": 40}
    assert scores["avg_logprob"] == -2.25 and scores["scored_tokens"] == 2
    done = REPLY_EXAMPLES[6].to_json()
    assert set(done) == {"id", "event", "model", "run", "text", "tokens", "finish_reason", "stop", "seed", "seconds",
                         "time_to_first_token_s", "tokens_per_s"}


def test_averages_without_a_finite_value_are_null_not_nan():
    assert Averages.of(float("-inf"), 3) == Averages(None, None, 3)
    assert Averages.of(0.0, 0) == Averages(None, None, 0)
    assert Averages.of(-2000.0, 1).perplexity is None, "exp overflows: no perplexity rather than inf"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ([1, 2], "not a JSON object"),
        ({"id": 1, "event": "teleport"}, "unknown reply event"),
        ({"id": 1, "event": "token", "model": "custom"}, "without its 'text'"),
        ({"id": 1, "event": "done", "model": "custom", "text": "x", "tokens": True, "finish_reason": "eos", "seed": 1,
          "seconds": 1}, "without its 'tokens'"),
        ({"id": [1], "event": "end"}, "bad id"),
        ({"id": 1, "event": "scores", "model": "baseline", "scored_tokens": 1, "texts": [3]}, "scored text"),
    ],
)
def test_a_malformed_reply_is_refused_with_a_reason(raw, why):
    with pytest.raises(ReplyError, match=why):
        reply_from_json(raw)


REQUEST_EXAMPLES = [
    GenerateRequest(prompt="Q: hi\nA:", run="r1", models=("baseline", "custom"), max_tokens=8, temperature=0.0, top_k=0,
                    top_p=0.9, seed=3, stop=("\n",)),
    GenerateRequest(prompt="hi"),
    LikelihoodRequest(texts=(Text("to be", "Hamlet:"),), run="r1", models=("custom",)),
    LikelihoodRequest(texts=(Text("a"), Text("b", "c"))),
    LoadRequest("r1", replace=True),
    InfoRequest(),
    CancelRequest("r7"),
]


@pytest.mark.parametrize("request_", REQUEST_EXAMPLES, ids=lambda r: r.KIND)
def test_requests_survive_their_json_line_and_the_servers_checks(request_):
    raw = _line(request_.to_json("r9"))
    assert raw["id"] == "r9" and raw["type"] == request_.KIND
    assert parse_request(raw) == request_


def test_one_text_goes_as_text_and_prompt():
    """As a person would type it, so the server's errors name it as they always did."""
    raw = LikelihoodRequest(texts=(Text("", "ctx"),)).to_json(1)
    assert raw["text"] == "" and raw["prompt"] == "ctx" and "texts" not in raw
    with pytest.raises(RequestError, match="^'text': the text to score is empty"):
        parse_request(raw)


def test_a_request_built_in_code_is_checked_like_a_typed_line():
    with pytest.raises(RequestError, match="max_tokens must be at least 1"):
        parse_request(GenerateRequest(prompt="x", max_tokens=0).to_json(1))
    with pytest.raises(RequestError, match="'custom' needs a 'run'"):
        parse_request(GenerateRequest(prompt="x", models=("custom",)).to_json(1))
    with pytest.raises(RequestError) as caught:
        parse_request({"type": "train"})
    assert caught.value.code == "unknown_type"
    with pytest.raises(RequestError, match="missing field 'target'"):
        parse_request({"type": "cancel"})


@pytest.mark.parametrize(("key", "value"), [("max_tokens", 0), ("temperature", -1), ("top_k", -1), ("top_p", 2), ("seed", -1)])
def test_a_sampling_value_out_of_range_names_its_key_first(key, value):
    with pytest.raises(RequestError) as caught:
        parse_request({**GenerateRequest(prompt="x").to_json(1), key: value})
    assert caught.value.field == key and str(caught.value).startswith(f"{key} must be")
