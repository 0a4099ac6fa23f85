"""Pack examples into full sequences, so no compute is spent on padding.

Examples are placed into rows of at most ``seq_len`` tokens, first fit by
decreasing length. Each row carries ``position_ids`` that restart at 0 for
every example; transformers reads those restarts as sequence boundaries and
builds a block-diagonal causal mask, so packed examples never attend to each
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from engine.train.tokenize import IGNORE, Encoded


@dataclass
class Row:
    """One training sequence: several examples back to back."""

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


@dataclass(frozen=True)
class RowPlan:
    """Which pieces of which sequences make each row: row ``r`` is pieces ``starts[r]`` to ``starts[r + 1]``.

    A piece is the first ``size`` tokens of sequence ``sequence``. The plan
    is a few bytes per sequence, so packing never copies the tokens.
    """

    starts: np.ndarray
    sequence: np.ndarray
    size: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1


def plan_rows(lengths: Sequence[int] | np.ndarray, seq_len: int) -> RowPlan:
    """First-fit-decreasing bin packing of sequences of ``lengths`` into rows of at most ``seq_len`` tokens.

    Sequences are taken longest first (ties in order); each goes into the
    first row with room for it, or a new row. The first row with room is
    found in a tree of the rows' free space (the most room in each half), so
    a corpus of a million sequences packs in seconds, not hours; the rows are
    the ones a scan of every row would give.
    """
    full = np.asarray(lengths, dtype=np.int64).reshape(-1)
    sizes = np.minimum(full, seq_len)
    order = np.lexsort((np.arange(len(full)), -full))  # longest first (before the cut at seq_len), ties in order
    order = order[sizes[order] > 0]
    leaves = 1
    while leaves < max(1, len(order)):
        leaves *= 2
    room = np.full(2 * leaves, -1, dtype=np.int64)  # room[1] is the root; a leaf with -1 is no row yet
    tree = room.tolist()  # plain ints: the walk below runs once per sequence
    row_of = np.empty(len(order), dtype=np.int64)
    rows = 0
    for k, size in enumerate(sizes[order].tolist()):
        if tree[1] >= size:
            node = 1
            while node < leaves:
                node = 2 * node if tree[2 * node] >= size else 2 * node + 1
            row = node - leaves
        else:
            row, rows = rows, rows + 1
            node = leaves + row
            tree[node] = seq_len
        tree[node] -= size
        row_of[k] = row
        node //= 2
        while node:
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
            node //= 2
    by_row = np.argsort(row_of, kind="stable")  # each row's pieces in the order they went in
    starts = np.searchsorted(row_of[by_row], np.arange(rows + 1))
    return RowPlan(starts, order[by_row], sizes[order][by_row])


def pack(encoded: Sequence[Encoded], seq_len: int) -> list[Row]:
    """First-fit-decreasing bin packing of examples into rows of at most ``seq_len`` tokens (``plan_rows``)."""
    rows = PackedRows(encoded, plan_rows([len(e) for e in encoded], seq_len))
    return [rows[r] for r in range(len(rows))]


def one_per_row(encoded: Sequence[Encoded], seq_len: int) -> list[Row]:
    """No packing: each example is its own row (for comparison, and ``packing=False``)."""
    rows = PackedRows(encoded, unpacked_plan([len(e) for e in encoded], seq_len))
    return [rows[r] for r in range(len(rows))]


def unpacked_plan(lengths: Sequence[int] | np.ndarray, seq_len: int) -> RowPlan:
    """The plan of ``one_per_row``: every non-empty sequence alone in its row, cut at ``seq_len``."""
    sizes = np.minimum(np.asarray(lengths, dtype=np.int64).reshape(-1), seq_len)
    kept = np.flatnonzero(sizes > 0)
    return RowPlan(np.arange(len(kept) + 1), kept, sizes[kept])


class PackedRows(Sequence[Row]):
    """The rows of a plan over sequences, each put together when asked for: the Trainer's dataset.

    Only the rows of the batch in hand exist as lists; the tokens stay in the
    sequences (``engine.train.sequences``, mapped from disk for a large corpus).
    """

    def __init__(self, sequences: Sequence[Encoded], plan: RowPlan) -> None:
        self.sequences = sequences
        self.plan = plan

    def __len__(self) -> int:
        return len(self.plan)

    @overload
    def __getitem__(self, r: int) -> Row: ...
    @overload
    def __getitem__(self, r: slice) -> list[Row]: ...
    def __getitem__(self, r: int | slice) -> Row | list[Row]:
        if isinstance(r, slice):
            return [self[k] for k in range(*r.indices(len(self)))]
        if not -len(self) <= r < len(self):
            raise IndexError(r)
        r %= len(self)
        row = Row([], [], [])
        for piece in range(int(self.plan.starts[r]), int(self.plan.starts[r + 1])):
            seq, size = self.sequences[int(self.plan.sequence[piece])], int(self.plan.size[piece])
            row.input_ids += _ints(seq.input_ids[:size])
            row.labels += _ints(seq.labels[:size])
            row.position_ids += range(size)
        return row


def _ints(values: list[int] | np.ndarray) -> list[int]:
    return values if isinstance(values, list) else values.tolist()


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
