"""The run's data as training reads it: the split, each side's tokens, and the packed rows.

The data file is read twice, streaming, and never held whole. The first
read, before the model loads, keeps one 8-byte key per example: enough to
split as ``engine.data.split_examples`` does (the split needs every key
before it can place any example) and to fail at once on bad data. The
second read, once the tokenizer is there, encodes each example as it
arrives into ``engine.train.sequences`` (int32 tokens, on disk in the run
folder), keeping only the few held-out examples the samples need.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import DataError, DataSpec, Example, iter_examples
from engine.data.quality import near_key
from engine.data.split import eval_mask
from engine.train import templates
from engine.train.packing import PackedRows, plan_rows, unpacked_plan
from engine.train.sequences import Sequences, SequenceWriter
from engine.train.tokenize import iter_windows


@dataclass(frozen=True)
class Split:
    """Which examples, in file order, are held out for eval, and the kinds of example the file holds."""

    held: np.ndarray
    kinds: frozenset[str]

    @property
    def train_examples(self) -> int:
        return int(len(self.held) - self.held.sum())

    @property
    def eval_examples(self) -> int:
        return int(self.held.sum())


def read_split(spec: DataSpec, eval_fraction: float, seed: int) -> Split:
    """The seeded train/eval split of ``split_examples``, from one streaming read that keeps a key per example."""
    keys = array("Q")
    kinds: set[str] = set()
    for example in iter_examples(spec):
        keys.append(near_key(example.render()))
        kinds.add(example.kind)
    return Split(eval_mask(np.frombuffer(keys, dtype=np.uint64), eval_fraction, seed), frozenset(kinds))


@dataclass(frozen=True)
class Tokenized:
    """Both sides of the split as token sequences (windows of at most ``seq_len``), and the first held-out examples."""

    train: Sequences
    held: Sequences
    first_held: list[Example]


def tokenize_split(
    spec: DataSpec, split: Split, template: templates.RunTemplate, tokenizer: Any, seq_len: int, folder: Path | None = None, keep_held: int = 0
) -> Tokenized:
    """Read the file again and encode each example into its side's sequences as it comes.

    ``folder`` holds the tokens (unnamed files, see ``engine.train.sequences``);
    ``keep_held`` is how many held-out examples to keep as they are, for the
    samples. A file whose examples changed since ``read_split`` is a
    ``DataError``: the split would no longer be the one reported.
    """
    sides = {False: SequenceWriter(folder), True: SequenceWriter(folder)}
    first_held: list[Example] = []
    count = 0
    for example in iter_examples(spec):
        if count == len(split.held):
            raise _changed(spec)
        held = bool(split.held[count])
        count += 1
        (ready,) = templates.apply(template, tokenizer, [example])
        for window in iter_windows(ready, tokenizer, seq_len):
            sides[held].add(window)
        if held and len(first_held) < keep_held:
            first_held.append(example)
    if count != len(split.held):
        raise _changed(spec)
    return Tokenized(sides[False].finish(), sides[True].finish(), first_held)


def _changed(spec: DataSpec) -> DataError:
    return DataError(spec.path, "the file changed while the run was reading it; start the run again once it is written", code="changed")


def train_rows(sequences: Sequence[Any], seq_len: int, packing: bool) -> PackedRows:
    """The Trainer's dataset: the sequences packed first-fit into rows of ``seq_len`` tokens, or one per row."""
    lengths = sequences.lengths if isinstance(sequences, Sequences) else [len(s) for s in sequences]
    plan = plan_rows(lengths, seq_len) if packing else unpacked_plan(lengths, seq_len)
    return PackedRows(sequences, plan)
