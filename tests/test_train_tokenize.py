"""Loss masks: completion-only for pairs, assistant-only for chats, everything for text."""

from __future__ import annotations

from engine.data import Example, Message
from engine.train.tokenize import IGNORE, encode, encode_windows


def _decode_labelled(tokenizer, enc) -> str:
    return tokenizer.decode([t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE])


def test_text_is_learned_whole_except_bos(tokenizer):
    enc = encode(Example(0, 1, "text", text="the quick brown fox"), tokenizer, 100)
    assert enc.input_ids[0] == tokenizer.bos_token_id and enc.input_ids[-1] == tokenizer.eos_token_id
    assert enc.labels[0] == IGNORE
    assert enc.labels[1:] == enc.input_ids[1:]


def test_prompt_completion_masks_the_prompt(tokenizer):
    ex = Example(0, 1, "prompt_completion", prompt="to be or not", completion=" to be, that is")
    enc = encode(ex, tokenizer, 100)
    prompt_len = 1 + len(tokenizer("to be or not", add_special_tokens=False)["input_ids"])
    assert all(label == IGNORE for label in enc.labels[:prompt_len])
    assert all(label != IGNORE for label in enc.labels[prompt_len:])
    assert _decode_labelled(tokenizer, enc) == " to be, that is</s>"


def test_chat_learns_only_assistant_turns(tokenizer):
    ex = Example(
        0,
        1,
        "messages",
        messages=(
            Message("system", "be brief"),
            Message("user", "the quick fox?"),
            Message("assistant", "jumps over the dog"),
            Message("user", "and then?"),
            Message("assistant", "all that glitters"),
        ),
    )
    enc = encode(ex, tokenizer, 200)
    learned = _decode_labelled(tokenizer, enc)
    assert "jumps over the dog" in learned and "all that glitters" in learned
    assert "quick fox" not in learned and "be brief" not in learned and "and then" not in learned
    full = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in ex.messages], tokenize=True)
    full = full["input_ids"] if hasattr(full, "keys") else full
    assert enc.input_ids == list(full)


def test_truncates_to_max_len(tokenizer):
    enc = encode(Example(0, 1, "text", text="the quick brown fox " * 50), tokenizer, 16)
    assert len(enc.input_ids) == len(enc.labels) == 16


def test_long_text_is_split_into_windows_not_cut(tokenizer):
    text = " ".join(f"word{i}" for i in range(200))
    whole = encode(Example(0, 1, "text", text=text), tokenizer, 10**6)
    windows = encode_windows(Example(0, 1, "text", text=text), tokenizer, 16)
    assert [t for w in windows for t in w.input_ids] == whole.input_ids
    assert all(len(w) <= 16 for w in windows) and len(windows) == -(-len(whole) // 16)
    assert all(w.labels[0] == IGNORE and w.labels[1:] == w.input_ids[1:] for w in windows)


def test_long_prompt_completion_is_cut_not_split(tokenizer):
    ex = Example(0, 1, "prompt_completion", prompt="q " * 40, completion="a " * 40)
    windows = encode_windows(ex, tokenizer, 16)
    assert len(windows) == 1 and windows[0] == encode(ex, tokenizer, 16)
