"""Held-out scoring of a pretrained model: every token of a text scored once, as a summed loss.

Shared by the training loop (its curve and final figures) and the model card
(texts from outside the corpus), so both report the same number for the same
tokens.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Heldout:
    """Held-out figures: mean loss per token (nats), and bits per byte of text."""

    loss: float
    bits_per_byte: float
    tokens: int
    bytes: int

    def to_json(self) -> dict:
        return {"loss": round(self.loss, 4), "bits_per_byte": round(self.bits_per_byte, 4), "tokens": self.tokens, "bytes": self.bytes}


def heldout_windows(ids: list[int], bos: int, seq_len: int) -> list[list[int]]:
    """Non-overlapping windows of ``seq_len - 1`` tokens, each after ``<s>``: every token scored once."""
    step = seq_len - 1
    return [[bos, *ids[i : i + step]] for i in range(0, len(ids), step)]


def evaluate(model, windows: list[list[int]], device: str, precision: str, batch_size: int) -> tuple[float, int]:
    """Summed next-token loss (nats) over every non-``<s>`` token of ``windows``, and their count.

    Scored with ``engine.eval.score_rows``, the forward the fine-tune's
    scorecard and the playground's likelihood use, so a held-out loss here
    and there is the same number for the same tokens.
    """
    import torch

    from engine.eval import score_rows

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    # Equal lengths batch together (nothing is padded); the last (short) window of each book goes alone.
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
    with torch.no_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
        i = 0
        while i < len(order):
            length = len(windows[order[i]])
            group = [order[i]]
            i += 1
            while i < len(order) and len(group) < batch_size and len(windows[order[i]]) == length:
                group.append(order[i])
                i += 1
            rows = [windows[j] for j in group]
            for scores in score_rows(model, rows, [[True] * length] * len(rows), pad_id=rows[0][0]):
                total -= float(scores.logprobs.sum())
                count += scores.count
    model.train(was_training)
    return total, count
