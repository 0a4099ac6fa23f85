"""Answer-level rates for chat data too: the scorecard's "answers right" is not only for prompt/completion pairs."""

from __future__ import annotations

from transformers import AutoTokenizer

from engine.data.examples import Example, Message
from engine.paths import SAMPLE_DATA
from engine.train.samples import _sample, rates, split_prompt


def test_a_chat_sample_is_checked_against_its_last_answer_and_counted_in_the_rates() -> None:
    tokenizer = AutoTokenizer.from_pretrained(SAMPLE_DATA / "models" / "finetui-tiny")
    chat = Example(0, 1, "chat", messages=(Message("user", "Where is Ostrevin?"), Message("assistant", "In the Gullmere Sea.")))
    prompt, reference = split_prompt(chat, tokenizer, 128)
    right = _sample(chat, tokenizer, prompt, reference, ["I don't know.", "In the Gullmere Sea."], [3.0, 1.0])
    assert (right.baseline_contains, right.custom_contains) == (False, True)
    worse = _sample(chat, tokenizer, prompt, reference, ["In the Gullmere Sea.", "Somewhere."], [1.0, 1.0])
    assert worse.worse, "the custom model lost an answer the baseline had"
    scored = rates([right, worse], "chat")
    assert scored is not None and (scored.baseline_contains, scored.custom_contains) == (0.5, 0.5)
