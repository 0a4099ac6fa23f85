"""The architecture matrix: every family people fine-tune, through finetui's real path, on the CPU.

For each family (tests/arch_families.py) a tiny random-init model with the
family's tokenizer specials and published chat template is saved to a folder;
then a run trains it in 4-bit through the training worker's own code
(``engine.train.worker._work``: queue, status, fine-tune, scorecard, adapter),
and the playground's session loads the adapter and generates and scores
with both models in one batch. One run per family, shared by its tests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.config import DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from tests.arch_families import FAMILIES, FamilySpec, make_family_model

pytestmark = pytest.mark.slow

QUESTIONS = [
    ("what does the fox do", "the quick brown fox jumps over the lazy dog"),
    ("how does a journey begin", "a journey of a thousand miles begins with a single step"),
    ("what is the question", "to be or not to be, that is the question"),
    ("is all that glitters gold", "all that glitters is not gold"),
]


@pytest.fixture(scope="module")
def chats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chat file: a user turn and an assistant turn per line, as instruct data comes."""
    path = tmp_path_factory.mktemp("chat-data") / "chats.jsonl"
    lines = []
    for i in range(10):
        question, answer = QUESTIONS[i % len(QUESTIONS)]
        messages = [{"role": "user", "content": f"{question} {i}"}, {"role": "assistant", "content": answer}]
        lines.append(json.dumps({"messages": messages}))
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Trained:
    family: FamilySpec
    model_dir: Path
    store: RunStore
    run: Run
    exit_code: int


@pytest.fixture(scope="module", params=FAMILIES, ids=[f.name for f in FAMILIES])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, chats: Path) -> Trained:
    """The family's tiny model, trained for 2 steps in 4-bit by the worker's code, in this process."""
    from engine.train.worker import _work

    family: FamilySpec = request.param
    root = tmp_path_factory.mktemp(f"arch-{family.name}")
    model_dir = make_family_model(family, root / "model")
    store = RunStore(root / "runs")
    config = RunConfig(
        family.name,
        DataConfig(str(chats), eval_fraction=0.2),
        ModelConfig(str(model_dir), quant="4bit"),
        LoraConfig(r=4, alpha=8),
        TrainConfig(max_steps=2, batch_size=2, seq_len=320, lr=1e-3, save_steps=100, eval_steps=0, samples=0),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINETUI_HOME", str(root / "home"))
        run = store.create(config)
        code = _work(run, threading.Event(), resume=False)
    return Trained(family, model_dir, store, run, code)


def test_trains_in_4bit_and_scores(trained: Trained) -> None:
    status = trained.run.status()
    assert (trained.exit_code, status.state) == (0, "ready"), status.reason
    card = trained.run.metrics()
    assert card is not None and card.scored
    assert card.train.steps == 2 and card.train.tokens and card.train.tokens > 0
    assert card.baseline.loss != card.custom.loss  # the adapter changed what the model computes
    adapter = json.loads((trained.run.adapter_dir / "adapter_config.json").read_text())
    assert any(trained.run.adapter_dir.glob("*.safetensors"))
    targets = set(adapter["target_modules"])
    assert targets and "lm_head" not in targets and "gate" not in targets and "router" not in targets  # head and MoE router skipped


def test_chat_template_is_the_published_one(trained: Trained) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained.model_dir)
    if trained.family.template is None:
        assert tokenizer.chat_template is None  # GPT-2 and Pythia publish none: training used the default
        return
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt and "hi" in prompt
    log = trained.run.log_path.read_text() if trained.run.log_path.exists() else ""
    events = "".join(json.dumps(e.to_json()) for _, e in trained.run.events())
    assert "chat template" in log + events


def test_generates_and_scores_with_the_adapter(trained: Trained) -> None:
    from engine.infer.protocol import Done, Scores
    from engine.infer.requests import GenerateRequest, LikelihoodRequest, Text
    from engine.infer.session import InferenceSession

    assert trained.run.status().state == "ready"
    session = InferenceSession(trained.store, device="cpu")
    session.attach(trained.run.id)
    replies: list = []
    request = GenerateRequest(prompt="the quick brown", run=trained.run.id, models=("baseline", "custom"), max_tokens=4, temperature=0, seed=0)
    session.generate(request, replies.append)
    done = {r.model: r for r in replies if isinstance(r, Done)}
    assert set(done) == {"baseline", "custom"} and all(d.tokens >= 0 for d in done.values())
    scored: list = []
    texts = (Text(text="jumps over the lazy dog", prompt="the quick brown fox"),)
    session.likelihood(LikelihoodRequest(texts=texts, run=trained.run.id, models=("baseline", "custom")), scored.append)
    scores = {s.model: s for s in scored if isinstance(s, Scores)}
    assert set(scores) == {"baseline", "custom"}
    base, custom = scores["baseline"].averages, scores["custom"].averages
    assert base.scored_tokens == custom.scored_tokens > 0
    assert base.avg_logprob != custom.avg_logprob
