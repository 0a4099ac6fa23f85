"""Pack examples into full sequences, so no compute is spent on padding.

Examples are placed into rows of at most ``seq_len`` tokens, first fit by
decreasing length. Each row carries ``position_ids`` that restart at 0 for
every example; transformers reads those restarts as sequence boundaries and
builds a block-diagonal causal mask, so packed examples never attend to each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.train.tokenize import IGNORE, Encoded


@dataclass
class Row:
    """One training sequence: several examples back to back."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def pack(encoded: list[Encoded], seq_len: int) -> list[Row]:
    """First-fit-decreasing bin packing of examples into rows of at most ``seq_len`` tokens."""
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    rows: list[Row] = []
    free: list[int] = []
    for i in order:
        ex = encoded[i]
        size = min(len(ex), seq_len)
        if size == 0:
            continue
        slot = next((r for r, room in enumerate(free) if room >= size), None)
        if slot is None:
            rows.append(Row([], [], []))
            free.append(seq_len)
            slot = len(rows) - 1
        row = rows[slot]
        row.input_ids += ex.input_ids[:size]
        row.labels += ex.labels[:size]
        row.position_ids += list(range(size))
        free[slot] -= size
    return rows


def one_per_row(encoded: list[Encoded], seq_len: int) -> list[Row]:
    """No packing: each example is its own row (for comparison, and ``packing=False``)."""
    return [Row(e.input_ids[:seq_len], e.labels[:seq_len], list(range(min(len(e), seq_len)))) for e in encoded if len(e)]


class PackedCollator:
    """Stack rows into a batch, padding only the ends of shorter rows.

    The padding is given its own position ids from 0, so it forms a separate
    sequence that nothing else attends to, and label -100. No attention mask
    is passed: that is what tells transformers to derive the packed mask.

    With ``flatten`` (FlashAttention-2), the batch's rows are joined into a
    single row instead, with no padding at all: FlashAttention's
    variable-length path finds the examples from the restarts of
    ``position_ids``, but only in a batch of one row; given several rows it
    would attend across the examples packed in each.
    """

    def __init__(self, pad_id: int, flatten: bool = False) -> None:
        self.pad_id = pad_id
        self.flatten = flatten

    def __call__(self, rows: list[Row]) -> dict[str, Any]:
        import torch

        if self.flatten:
            return {
                "input_ids": torch.tensor([[t for r in rows for t in r.input_ids]], dtype=torch.long),
                "labels": torch.tensor([[t for r in rows for t in r.labels]], dtype=torch.long),
                "position_ids": torch.tensor([[t for r in rows for t in r.position_ids]], dtype=torch.long),
            }
        width = max(len(r.input_ids) for r in rows)
        ids, labels, positions = [], [], []
        for r in rows:
            pad = width - len(r.input_ids)
            ids.append(r.input_ids + [self.pad_id] * pad)
            labels.append(r.labels + [IGNORE] * pad)
            positions.append(r.position_ids + list(range(pad)))
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "position_ids": torch.tensor(positions, dtype=torch.long),
        }
