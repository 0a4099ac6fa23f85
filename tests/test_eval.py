"""engine.eval's one batched forward gives the numbers the scorecard and the playground gave with their own loops.

The references below are the two loops as they were before they shared
``engine.eval`` (``engine/train/scorecard.py`` and ``InferenceSession.score``
at commit c9e0671), run on a tiny Llama built in the test.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.eval import score_rows
from engine.train.scorecard import evaluate
from engine.train.tokenize import IGNORE, Encoded
from tests.tiny_model import make_model

ROWS = [
    [1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41],
    [1, 40, 41, 42],
    [1, 7, 7, 7, 7, 7, 60, 61],
    [1, 90],
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    loaded = AutoModelForCausalLM.from_pretrained(make_model(tmp_path_factory.mktemp("eval")), dtype=torch.float32)
    return loaded.eval()


def _old_scorecard(model, encoded: list[Encoded], pad_id: int, batch_size: int = 8) -> tuple[float, float, int]:
    """engine.train.scorecard.evaluate's loop before engine.eval (loss, accuracy, tokens)."""
    total_loss, correct, count = 0.0, 0, 0
    ordered = sorted(encoded, key=len)
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            batch = ordered[start : start + batch_size]
            width = max(len(e) for e in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, e in enumerate(batch):
                ids[row, : len(e)] = torch.tensor(e.input_ids)
                labels[row, : len(e)] = torch.tensor(e.labels)
                mask[row, : len(e)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
            target = labels[:, 1:].reshape(-1)
            keep = target != IGNORE
            if keep.any():
                total_loss += torch.nn.functional.cross_entropy(shifted[keep], target[keep], reduction="sum").item()
                correct += (shifted[keep].argmax(-1) == target[keep]).sum().item()
                count += int(keep.sum().item())
    return total_loss / count, correct / count, count


def _old_session_scores(model, rows: list[list[int]], first_scored: list[int], pad_id: int) -> list[tuple[list[int], list[float], list[int]]]:
    """InferenceSession.score's inner loop before engine.eval: (targets, log-probs, ranks) per row."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, r in enumerate(rows):
        ids[row, : len(r)] = torch.tensor(r)
        mask[row, : len(r)] = 1
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask).logits
    out = []
    for row, (r, first) in enumerate(zip(rows, first_scored, strict=True)):
        targets = torch.tensor(r[first:])
        logprobs = torch.log_softmax(logits[row, first - 1 : len(r) - 1].float(), dim=-1)
        chosen = logprobs.gather(1, targets[:, None])
        ranks = (logprobs > chosen).sum(-1) + 1
        out.append((targets.tolist(), chosen[:, 0].tolist(), ranks.tolist()))
    return out


def test_the_scorecard_is_what_its_own_loop_gave(model):
    # Labels as tokenize makes them: IGNORE before the completion (and at bos), the ids after.
    encoded = [Encoded(r, [IGNORE] * cut + r[cut:]) for r, cut in zip(ROWS, (3, 1, 5, 1), strict=True)]
    old_loss, old_accuracy, old_count = _old_scorecard(model, encoded, pad_id=0, batch_size=3)
    figures = evaluate(model, encoded, pad_id=0, batch_size=3)
    assert figures.tokens == old_count == sum(len(r) - cut for r, cut in zip(ROWS, (3, 1, 5, 1), strict=True))
    assert figures.loss == pytest.approx(old_loss, rel=1e-6, abs=1e-6)
    assert figures.accuracy == old_accuracy


def test_the_playgrounds_scores_are_what_its_own_loop_gave(model):
    first = [1, 2, 6, 1]
    old = _old_session_scores(model, ROWS, first, pad_id=0)
    with torch.inference_mode():
        new = score_rows(model, ROWS, [[i >= f for i in range(len(r))] for r, f in zip(ROWS, first, strict=True)], 0)
    for (targets, logprobs, ranks), row in zip(old, new, strict=True):
        assert row.targets.tolist() == targets
        assert row.ranks.tolist() == ranks
        assert row.logprobs.tolist() == pytest.approx(logprobs, abs=1e-6)
        assert row.hits.tolist() == [r == 1 for r in ranks]


def test_a_row_scores_the_same_alone_and_padded_in_a_batch(model):
    masks = [[True] * len(r) for r in ROWS]
    with torch.inference_mode():
        together = score_rows(model, ROWS, masks, 0)
        for row, mask, scored in zip(ROWS, masks, together, strict=True):
            alone = score_rows(model, [row], [mask], 0)[0]
            assert alone.targets.tolist() == scored.targets.tolist() == row[1:], "token 0 is never scored"
            assert alone.logprobs.tolist() == pytest.approx(scored.logprobs.tolist(), abs=1e-5)


def test_nothing_scored_is_no_figures(model):
    encoded = [Encoded(r, [IGNORE] * len(r)) for r in ROWS]
    figures = evaluate(model, encoded, pad_id=0)
    assert (figures.loss, figures.accuracy, figures.tokens) == (None, None, 0)
