"""Packing: no token lost, rows within the length, and packed examples never see each other."""

from __future__ import annotations

import pytest
import torch

from engine.train.packing import PackedCollator, one_per_row, pack
from engine.train.tokenize import IGNORE, Encoded
from tests.tiny_model import make_model


def _examples(lengths: list[int]) -> list[Encoded]:
    out = []
    for n, length in enumerate(lengths):
        ids = [(n * 7 + i) % 250 + 3 for i in range(length)]
        out.append(Encoded(ids, [IGNORE] + ids[1:]))
    return out


def test_pack_keeps_every_token_and_fills_rows():
    encoded = _examples([5, 60, 30, 30, 17, 64, 2, 40, 33, 9])
    rows = pack(encoded, 64)
    assert all(len(r.input_ids) <= 64 for r in rows)
    assert sorted(t for r in rows for t in r.input_ids) == sorted(t for e in encoded for t in e.input_ids)
    assert len(rows) == 5  # 290 tokens need at least 5 rows of 64; first fit decreasing finds 5
    padded_rows = one_per_row(encoded, 64)
    assert len(padded_rows) == len(encoded)


def test_position_ids_restart_for_each_example():
    rows = pack(_examples([10, 20, 30]), 64)
    assert len(rows) == 1
    starts = [i for i, p in enumerate(rows[0].position_ids) if p == 0]
    assert starts == [0, 30, 50]


def test_pack_truncates_examples_longer_than_a_row():
    rows = pack(_examples([100]), 64)
    assert [len(r.input_ids) for r in rows] == [64]


def test_collator_pads_ends_as_their_own_sequence():
    batch = PackedCollator(pad_id=2)(pack(_examples([30, 20, 50]), 64))
    assert batch["input_ids"].shape == batch["labels"].shape == batch["position_ids"].shape
    assert "attention_mask" not in batch
    short = int((batch["labels"] != IGNORE).sum(1).argmin())
    row_positions = batch["position_ids"][short].tolist()
    assert row_positions[-1] < 64 and row_positions.count(0) >= 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    path = make_model(tmp_path_factory.mktemp("tiny"))
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()


def test_packed_logits_equal_separate_logits(tiny):
    """The packed mask is block-diagonal: each example's logits are as if it were alone."""
    encoded = _examples([12, 7, 20])
    batch = PackedCollator(pad_id=2)(pack(encoded, 64))
    with torch.no_grad():
        packed = tiny(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        offset = 0
        for e in sorted(encoded, key=len, reverse=True):
            alone = tiny(input_ids=torch.tensor([e.input_ids])).logits[0]
            torch.testing.assert_close(packed[offset : offset + len(e)], alone, rtol=1e-4, atol=1e-4)
            offset += len(e)
