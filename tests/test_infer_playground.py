"""The playground engine on the tiny model: generation, likelihood, adapters, errors, CLI and the real process.

Adapters are made in the test with ``get_peft_model`` and random non-zero
LoRA weights, so baseline and custom differ; runs are folders in a
module-wide run store.
"""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import torch

from engine.config import DataConfig, ModelConfig, RunConfig
from engine.infer.client import InferenceClient
from engine.infer.protocol import (
    Done,
    End,
    Error,
    GenerateRequest,
    Info,
    Ready,
    Reply,
    Scores,
    Start,
    Token,
)
from engine.infer.requests import RequestError, parse_generate, parse_likelihood
from engine.infer.server import Server
from engine.infer.session import InferenceSession
from engine.runs import RunStore
from tests.tiny_model import make_adapter, make_model
from tui.cli import main
from tui.format import shown

PROMPT = "the quick brown"
TEXT = "to be or not to be, that is the question."


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny model and a run store with: two ready runs, a training one, two on other base models."""
    root = tmp_path_factory.mktemp("playground")
    model_dir = make_model(root / "tiny")
    home = root / "home"
    store = RunStore(home / "runs")
    data = DataConfig(str(root / "data.txt"))

    def run(name: str, model: str = str(model_dir), quant: str = "4bit", seed: int | None = None, state: str = "ready"):
        created = store.create(RunConfig(name, data, ModelConfig(model, quant=quant)))
        if seed is not None:
            make_adapter(model_dir, created.adapter_dir, seed)
        created.write_status(created.status().moved(state))
        return created.id

    ids = {"alpha": run("alpha", seed=1), "beta": run("beta", seed=2), "pending": run("pending", state="training")}
    ids["other"] = run("other", model=str(root / "another-model"))
    ids["unquantized"] = run("unquantized", quant="none")
    for name in ("other", "unquantized"):
        shutil.copytree(store.get(ids["alpha"]).adapter_dir, store.get(ids[name]).adapter_dir)
    return {"model": model_dir, "home": home, "store": store, **ids}


@pytest.fixture(scope="module")
def session(world):
    """A session with both ready runs attached."""
    s = InferenceSession(world["store"])
    s.attach(world["alpha"])
    s.attach(world["beta"])
    return s


@pytest.fixture(scope="module")
def plain(world):
    """A session with the base model only: no adapter ever attached."""
    s = InferenceSession(world["store"])
    s.load_base(str(world["model"]), "4bit")
    return s


def _generate(session: InferenceSession, **fields) -> list[Reply]:
    events: list[Reply] = []
    session.generate(parse_generate({"prompt": PROMPT, "max_tokens": 16, **fields}), events.append)
    return events


def _done(events: list[Reply]) -> dict[str, Done]:
    return {e.model: e for e in events if isinstance(e, Done)}


def _scores(session: InferenceSession, **fields) -> dict[str, Scores]:
    events: list[Reply] = []
    session.likelihood(parse_likelihood({"text": TEXT, **fields}), events.append)
    assert all(isinstance(e, Scores) for e in events)
    return {e.model: e for e in events}  # type: ignore[attr-defined]


def _plain_greedy(model, session: InferenceSession, max_new: int) -> str:
    ids = torch.tensor([session.encode_prompt(PROMPT)])
    out = model.generate(ids, max_new_tokens=max_new, do_sample=False, pad_token_id=session.tokenizer.pad_token_id)
    return session.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


# -- generation -------------------------------------------------------------------------------


@pytest.mark.slow
def test_greedy_is_plain_greedy_generate_for_baseline_and_custom(session, plain, world):
    done = _done(_generate(session, run=world["alpha"], temperature=0))
    assert _plain_greedy(plain.model, plain, 16) == done["baseline"].text
    session.model.set_adapter(session.adapters[world["alpha"]])
    assert _plain_greedy(session.model, session, 16) == done["custom"].text
    assert done["baseline"].text != done["custom"].text, "a non-trivial adapter changes the output"
    for event in done.values():
        assert event.tokens > 0 and event.finish_reason in ("length", "eos")


@pytest.mark.slow
def test_streamed_tokens_add_up_and_the_same_seed_gives_the_same_output(session, world):
    first = _generate(session, run=world["alpha"], temperature=1.0, top_k=0, seed=5)
    again = _generate(session, run=world["alpha"], temperature=1.0, top_k=0, seed=5)
    other = _generate(session, run=world["alpha"], temperature=1.0, top_k=0, seed=6)
    assert [e for e in first if not isinstance(e, Done)] == [e for e in again if not isinstance(e, Done)]
    assert [e.seed for e in first if isinstance(e, Start)] == [5, 5], "both models get the request's seed"
    for model, event in _done(first).items():
        assert "".join(e.text for e in first if isinstance(e, Token) and e.model == model) == event.text
        assert event.text == _done(again)[model].text
    assert [d.text for d in _done(first).values()] != [d.text for d in _done(other).values()]
    # Without a seed, one is drawn and reported, so the output can be reproduced.
    drawn = _done(_generate(session, temperature=1.0))["baseline"]
    assert _done(_generate(session, temperature=1.0, seed=drawn.seed))["baseline"].text == drawn.text


def _plain_sampled(model, session: InferenceSession, seed: int, max_new: int, **settings) -> str:
    ids = torch.tensor([session.encode_prompt(PROMPT)])
    torch.manual_seed(seed)
    out = model.generate(ids, max_new_tokens=max_new, do_sample=True, pad_token_id=session.tokenizer.pad_token_id, **settings)
    return session.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_both_models_stream_together_in_one_batch(session, world):
    events = _generate(session, run=world["alpha"], temperature=0)
    kinds = [(e.KIND, getattr(e, "model", None)) for e in events]
    assert kinds[:2] == [("start", "baseline"), ("start", "custom")]
    done = _done(events)
    assert all(d.tokens >= 2 for d in done.values()), "the check below needs two tokens a side"
    first_done = min(kinds.index(("done", m)) for m in done)
    for model in done:
        assert kinds.index(("token", model)) < first_done, f"{model} streams before either side ends"


def test_sampled_rows_are_plain_seeded_sampling_whatever_shares_the_batch(session, world):
    """Each row samples with its own generator: the same text as a plain sampled generate after
    ``torch.manual_seed(seed)``, for both models, and the baseline alone samples what it samples beside the custom model."""
    settings = {"temperature": 0.9, "top_k": 20, "top_p": 0.95}
    both = _done(_generate(session, run=world["alpha"], seed=11, **settings))
    alone = _done(_generate(session, run=world["alpha"], seed=11, models=["baseline"], **settings))
    assert alone["baseline"].text == both["baseline"].text
    with session.serving("baseline", None) as model:
        assert _plain_sampled(model, session, 11, 16, **settings) == both["baseline"].text
    with session.serving("custom", session.find_run(world["alpha"])) as model:
        assert _plain_sampled(model, session, 11, 16, **settings) == both["custom"].text


def test_stop_sequence_ends_the_generation_and_is_trimmed(session, world):
    full = _done(_generate(session, run=world["alpha"], temperature=0, max_tokens=24))
    for model, event in full.items():
        text = event.text
        stop = text[len(text) // 2 : len(text) // 2 + 2]
        events = _generate(session, run=world["alpha"], temperature=0, max_tokens=24, stop=[stop], models=[model])
        done = _done(events)[model]
        assert done.text == text[: text.find(stop)]
        assert done.finish_reason == "stop" and done.stop == stop
        assert "".join(e.text for e in events if isinstance(e, Token)) == done.text


def test_two_adapters_give_different_outputs(session, world):
    alpha = _done(_generate(session, run=world["alpha"], temperature=0, models=["custom"]))["custom"]
    beta = _done(_generate(session, run=world["beta"], temperature=0, models=["custom"]))["custom"]
    assert alpha.text != beta.text
    assert _scores(session, run=world["alpha"])["custom"].avg_logprob != _scores(session, run=world["beta"])["custom"].avg_logprob


def test_a_against_b_two_runs_of_one_base_in_one_batch_each_as_alone(session, world):
    both = _done(_generate(session, run=world["alpha"], versus=world["beta"], temperature=0))
    assert set(both) == {"custom", "versus"}
    assert both["custom"].run == world["alpha"] and both["versus"].run == world["beta"]
    alpha = _done(_generate(session, run=world["alpha"], temperature=0, models=["custom"]))["custom"]
    beta = _done(_generate(session, run=world["beta"], temperature=0, models=["custom"]))["custom"]
    assert both["custom"].text == alpha.text and both["versus"].text == beta.text and alpha.text != beta.text
    scores = _scores(session, run=world["alpha"], versus=world["beta"])
    assert scores["custom"].texts == _scores(session, run=world["alpha"])["custom"].texts
    assert scores["versus"].texts == _scores(session, run=world["beta"])["custom"].texts


def test_a_against_b_refuses_runs_of_another_base_and_the_same_run_twice(session, world):
    with pytest.raises(RequestError) as refused:
        session.generate(parse_generate({"prompt": PROMPT, "run": world["alpha"], "versus": world["other"]}), lambda reply: None)
    assert refused.value.code == "base_mismatch" and "different base models" in str(refused.value) and "another-model" in str(refused.value)
    with pytest.raises(RequestError, match="the same run"):
        session.generate(parse_generate({"prompt": PROMPT, "run": world["alpha"], "versus": "alpha"}), lambda reply: None)
    with pytest.raises(RequestError, match="'versus' needs a 'run'"):
        parse_generate({"prompt": PROMPT, "versus": world["beta"]})


def test_baseline_is_identical_with_and_without_adapters_loaded(session, plain, world):
    with_adapters = _done(_generate(session, run=world["beta"], temperature=0))["baseline"]
    without = _done(_generate(plain, temperature=0))["baseline"]
    assert with_adapters.text == without.text
    scored_with = _scores(session, run=world["beta"])["baseline"]
    scored_without = _scores(plain)["baseline"]
    assert scored_with.texts == scored_without.texts
    assert scored_with.avg_logprob == scored_without.avg_logprob


def test_prompt_plus_max_tokens_past_the_context_stops_at_the_context(plain):
    context = plain.context_length
    prompt = PROMPT
    while len(plain.encode_prompt(prompt)) < context - 6:
        prompt += " fox"
    events: list[Reply] = []
    plain.generate(parse_generate({"prompt": prompt, "max_tokens": 100, "temperature": 0}), events.append)
    start, done = [e for e in events if isinstance(e, Start | Done)]
    assert isinstance(start, Start) and isinstance(done, Done)
    assert start.max_tokens == context - len(plain.encode_prompt(prompt)) <= 6
    assert done.finish_reason in ("context", "eos")


# -- likelihood -------------------------------------------------------------------------------


def test_likelihood_is_the_models_own_log_probabilities(plain):
    scores = _scores(plain)["baseline"]
    ids = plain.encode_prompt(TEXT)
    with torch.no_grad():
        logits = plain.model(input_ids=torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits[:-1], -1)
    targets = torch.tensor(ids[1:])
    expected = logprobs.gather(1, targets[:, None])[:, 0]
    ranks = (logprobs > expected[:, None]).sum(-1) + 1
    tokens = scores.texts[0].tokens
    assert [t.id for t in tokens] == ids[1:]
    assert [t.rank for t in tokens] == ranks.tolist()
    assert [t.logprob for t in tokens] == pytest.approx(expected.tolist(), abs=1e-4)
    assert scores.avg_logprob == pytest.approx(expected.mean().item(), abs=1e-4)
    assert scores.perplexity == pytest.approx(math.exp(-scores.avg_logprob))
    assert scores.scored_tokens == len(ids) - 1
    assert "".join(t.text for t in tokens) == TEXT


def test_likelihood_with_a_prompt_scores_the_completion_only(plain):
    scored = _scores(plain, text=" that is the question.", prompt="to be or not to be,")["baseline"]
    completion = plain.tokenizer(" that is the question.", add_special_tokens=False)["input_ids"]
    assert [t.id for t in scored.texts[0].tokens] == completion


def test_both_models_score_in_one_batch_as_each_does_alone(session, world):
    both = _scores(session, run=world["alpha"])
    for model in ("baseline", "custom"):
        alone = _scores(session, run=world["alpha"], models=[model])[model]
        assert [t.id for t in alone.texts[0].tokens] == [t.id for t in both[model].texts[0].tokens]
        assert alone.avg_logprob == pytest.approx(both[model].avg_logprob, abs=1e-5)
    assert both["baseline"].avg_logprob != both["custom"].avg_logprob


def test_several_texts_in_one_batch_score_as_they_do_alone(plain):
    texts = [TEXT, "a journey", "all that glitters is not gold. the quick brown fox jumps over the lazy dog."]
    events: list[Reply] = []
    plain.likelihood(parse_likelihood({"texts": texts}), events.append)
    scores = events[0]
    assert isinstance(scores, Scores)
    together = scores.texts
    for text, scored in zip(texts, together, strict=True):
        alone = _scores(plain, text=text)["baseline"].texts[0]
        assert [t.id for t in scored.tokens] == [t.id for t in alone.tokens]
        assert scored.avg_logprob == pytest.approx(alone.avg_logprob, abs=1e-4)
    total = sum(s.scored_tokens for s in together)
    assert scores.scored_tokens == total
    assert scores.avg_logprob == pytest.approx(sum(s.avg_logprob * s.scored_tokens for s in together) / total)


# -- errors and cancel, through the server's handler ------------------------------------------


def _handle(server: Server, request) -> list[Reply]:
    events: list[Reply] = []
    server.handle(request, events.append)
    return events


def test_bad_requests_get_one_error_each_and_the_server_keeps_serving(session, world):
    server = Server(session)
    long_text = "the quick brown fox " * 80
    cases = [
        ('{"id": 1, "type": "generate", "prompt": ', "bad_json"),
        ("[1, 2]", "bad_request"),
        ({"id": 2, "prompt": "x"}, "bad_request"),
        ({"id": 3, "type": "train"}, "unknown_type"),
        ({"id": 4, "type": "generate"}, "bad_request"),
        ({"id": 5, "type": "generate", "prompt": "", "run": world["alpha"]}, "bad_request"),
        ({"id": 6, "type": "generate", "prompt": "x", "max_tokens": 0}, "bad_request"),
        ({"id": 7, "type": "generate", "prompt": "x", "run": "no-such-run"}, "unknown_run"),
        ({"id": 8, "type": "generate", "prompt": long_text, "run": world["alpha"]}, "too_long"),
        ({"id": 9, "type": "likelihood", "text": long_text}, "too_long"),
        ({"id": 10, "type": "likelihood", "text": "x", "run": world["pending"]}, "not_ready"),
        ({"id": 11, "type": "load", "run": world["other"]}, "base_mismatch"),
        ({"id": 12, "type": "load", "run": world["unquantized"]}, "base_mismatch"),
        ({"id": [1], "type": "info"}, "bad_request"),
    ]
    for request, code in cases:
        events = _handle(server, request)
        assert len(events) == 1 and isinstance(events[0], Error), (request, events)
        assert events[0].code == code, (request, events[0])
        assert events[0].message and "\n" not in events[0].message
    mismatch = _handle(server, {"type": "load", "run": world["other"]})[0]
    assert isinstance(mismatch, Error) and "another-model" in mismatch.message
    ok = _handle(server, {"id": "ok", "type": "generate", "prompt": PROMPT, "run": world["alpha"], "max_tokens": 3, "temperature": 0})
    assert isinstance(ok[-1], End) and all(e.id == "ok" for e in ok)
    info = _handle(server, {"id": "i", "type": "info"})[0]
    assert isinstance(info, Info) and info.info.adapters == (world["alpha"], world["beta"]) and info.info.context == 256


def test_cancel_stops_a_generation_at_once(session, world):
    server = Server(session)
    events: list[Reply] = []

    def emit(event: Reply) -> None:
        events.append(event)
        if isinstance(event, Token):
            server.handle({"id": "c", "type": "cancel", "target": "g"}, events.append)

    server.handle({"id": "g", "type": "generate", "prompt": PROMPT, "run": world["alpha"], "max_tokens": 200, "temperature": 1.0, "top_k": 0, "seed": 1}, emit)
    done = [e for e in events if isinstance(e, Done)]
    assert [e.model for e in done] == ["baseline", "custom"], "both rows of the batch stop together"
    assert all(e.finish_reason == "cancelled" and e.tokens < 200 for e in done)
    assert End(id="c", cancelled=True) in events
    assert events[-1] == End(id="g")
    assert events[-1].to_json() == {"id": "g", "event": "end"}, "the line on the wire is as it was"


@pytest.mark.slow
def test_the_real_process_streams_and_survives_bad_requests(world):
    with InferenceClient(runs=[world["alpha"]], env={"FINETUI_HOME": str(world["home"])}) as client:
        with pytest.raises(TimeoutError, match=r"^the inference process was not ready within 0\.001 s$"):
            client.wait_ready(timeout=0.001)  # it is still importing torch
        ready = client.wait_ready(timeout=120)
        assert isinstance(ready, Ready) and ready.info.adapters == (world["alpha"],) and not client.startup_errors
        with pytest.raises(TimeoutError, match=r"^no answer to request never-sent within 0\.05 s$"):
            next(client.events("never-sent", timeout=0.05))
        client.send_raw("{this is not json")
        bad = list(client.events(None, timeout=30))[0]
        assert isinstance(bad, Error) and bad.code == "bad_json"
        for request, code in [
            (GenerateRequest(prompt="x", run="no-such-run"), "unknown_run"),
            (GenerateRequest(prompt="", run=world["alpha"]), "bad_request"),
            (GenerateRequest(prompt="x", max_tokens=-1), "bad_request"),
            (GenerateRequest(prompt="the " * 300, run=world["alpha"]), "too_long"),
        ]:
            events = list(client.request(request, timeout=30))
            assert len(events) == 1 and isinstance(events[0], Error) and events[0].code == code
        events = list(client.generate(PROMPT, run=world["alpha"], max_tokens=6, temperature=0, timeout=60))
        kinds = [e.KIND for e in events]
        assert kinds[0] == "start" and "token" in kinds and kinds[-1] == "end" and kinds.count("done") == 2
        scores = client.likelihood(TEXT, run=world["alpha"], timeout=60)
        assert set(scores) == {"baseline", "custom"}
        assert client.alive
        assert not any("not a protocol line" in line for line in client.stderr_tail)
    assert client._proc.returncode == 0


# -- command line -----------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_generate_and_likelihood(world, session, monkeypatch, capsys):
    monkeypatch.setenv("FINETUI_HOME", str(world["home"]))
    assert main(["generate", world["alpha"], "--prompt", PROMPT, "-n", "16", "--temperature", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = _done(_generate(session, run=world["alpha"], temperature=0))
    assert result["baseline"]["text"] == expected["baseline"].text
    assert result["custom"]["text"] == expected["custom"].text
    # Streamed together, printed one after the other: each text whole under its own heading.
    assert main(["generate", world["alpha"], "--prompt", PROMPT, "-n", "16", "--temperature", "0"]) == 0
    out = capsys.readouterr().out
    baseline, custom = out.split("── custom")
    assert baseline.startswith("── baseline") and shown(expected["baseline"].text) in baseline
    assert shown(expected["custom"].text) in custom and "tokens" in custom
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), "a model's control characters are printed escaped (this tiny one writes \\x0c)"

    assert main(["likelihood", "alpha", "--text", TEXT, "--tokens"]) == 0
    out = capsys.readouterr().out
    scores = _scores(session, run=world["alpha"])
    assert f"{scores['baseline'].avg_logprob:.3f}" in out and f"{scores['custom'].avg_logprob:.3f}" in out
    assert "baseline log-prob" in out and "custom log-prob" in out and len(out.splitlines()) > 18

    # A/B: run alpha (A) against run beta (B), two adapters on one base.
    assert main(["generate", "alpha", "--versus", "beta", "--prompt", PROMPT, "-n", "16", "--temperature", "0"]) == 0
    a, b = capsys.readouterr().out.split("── B · run ")
    both = _done(_generate(session, run=world["alpha"], versus=world["beta"], temperature=0))
    assert a.startswith("── A · run ") and shown(both["custom"].text) in a and shown(both["versus"].text) in b
    assert main(["generate", "alpha", "--versus", "other", "--prompt", PROMPT]) == 2
    assert "different base models" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "no-such-run", "--prompt", "x"], "no run 'no-such-run'"),
        (["generate", "alpha", "--prompt", ""], "the prompt is empty"),
        (["generate", "alpha", "--prompt", "x", "--max-tokens", "0"], "error: --max-tokens must be at least 1"),
        (["generate", "alpha", "--prompt", "x", "--top-p", "2"], "error: --top-p must be in (0, 1]"),
        (["likelihood", "alpha", "--file", "/no/such/file.txt"], "cannot read /no/such/file.txt"),
        (["likelihood", "pending", "--text", "x"], "has no adapter yet"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(world, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("FINETUI_HOME", str(world["home"]))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"finetui {argv[0]}: error: ") and message in err[-1]


def test_one_cpu_thread_while_a_run_trains_here_and_the_lock_while_it_computes(world):
    """A training run holds train.lock: beside it, generation takes one thread, then all again once it ends.

    And while a request computes, the playground holds playground.lock, which
    the training run reads to take one thread in turn.
    """
    import torch

    from engine.cpu_share import PLAYGROUND_LOCK, TRAIN_LOCK, held, holding

    before = torch.get_num_threads()
    threads = 2  # two to give up, however many this process was given (one per pytest-xdist worker)
    torch.set_num_threads(threads)
    session = InferenceSession(world["store"])  # new: the module's session counted its threads already
    assert not held(TRAIN_LOCK)
    seen: list[bool] = []
    try:
        with holding(TRAIN_LOCK):  # as the training worker holds it
            _generate(session, run=world["alpha"], max_tokens=2)
            assert torch.get_num_threads() == 1
        session.generate(parse_generate({"prompt": PROMPT, "max_tokens": 2, "run": world["alpha"]}),
                         lambda event: seen.append(held(PLAYGROUND_LOCK)) if isinstance(event, Token) else None)
        assert torch.get_num_threads() == threads
        assert seen and all(seen) and not held(PLAYGROUND_LOCK)
    finally:
        torch.set_num_threads(before)
