"""Tokenized sequences kept as flat int32 arrays, in an unnamed file of the run folder, mapped into memory.

A corpus of hundreds of megabytes is tens of millions of tokens: as Python
lists of ints that is about 40 bytes a token, for ids and labels each. Here a
token is 8 bytes (its id and its label), written once to a file as the data
is tokenized and read back through ``mmap``: the pages the training steps
touch are in memory, the rest stays on disk, so the worker's memory grows
with the model and the batch, not with the corpus. The file has no name (it
is unlinked as soon as it is made): it goes when the process ends, however
it ends, and two ranks of one run never share it.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, overload

import numpy as np

from engine.train.tokenize import Encoded

#: Tokens gathered in memory before they are written out.
BUFFER_TOKENS = 1 << 16


class Sequences(Sequence[Encoded]):
    """Sequences ``i`` of ids and labels: ``ids[offsets[i]:offsets[i + 1]]``, the same for labels.

    An item is an ``Encoded`` whose ids and labels are int32 views of the
    arrays (no copy), so a list of all items, as the scorecard sorts them,
    costs a few hundred bytes per sequence, not per token.
    """

    def __init__(self, ids: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> None:
        self.ids = ids
        self.labels = labels
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Encoded: ...
    @overload
    def __getitem__(self, i: slice) -> list[Encoded]: ...
    def __getitem__(self, i: int | slice) -> Encoded | list[Encoded]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return Encoded(self.ids[start:end], self.labels[start:end])  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Encoded]:
        return (self[i] for i in range(len(self)))

    @property
    def lengths(self) -> np.ndarray:
        """Each sequence's length in tokens."""
        return np.diff(self.offsets)

    @property
    def tokens(self) -> int:
        return int(self.offsets[-1])


class SequenceWriter:
    """Collects sequences as they are encoded; ``finish`` hands them back as ``Sequences``.

    With a ``folder``, the tokens go to an unnamed file there as they come
    and are read back mapped; without one (a small split, a test) they stay
    in memory as arrays.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._files: list[BinaryIO] = []
        if folder is not None:
            self._files = [_unnamed(folder), _unnamed(folder)]
        self._ids: list[int] = []
        self._labels: list[int] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._offsets = array("q", [0])  # 8 bytes a sequence

    def add(self, encoded: Encoded) -> None:
        self._ids += encoded.input_ids
        self._labels += encoded.labels
        self._offsets.append(self._offsets[-1] + len(encoded.input_ids))
        if len(self._ids) >= BUFFER_TOKENS:
            self._flush()

    def _flush(self) -> None:
        chunk = np.asarray(self._ids, dtype=np.int32), np.asarray(self._labels, dtype=np.int32)
        self._ids, self._labels = [], []
        if self._files:
            for fh, array in zip(self._files, chunk, strict=True):
                fh.write(array.tobytes())
        else:
            self._chunks.append(chunk)

    def finish(self) -> Sequences:
        self._flush()
        offsets = np.array(self._offsets, dtype=np.int64)
        if not self._files:
            ids = np.concatenate([c[0] for c in self._chunks]) if self._chunks else np.zeros(0, np.int32)
            labels = np.concatenate([c[1] for c in self._chunks]) if self._chunks else np.zeros(0, np.int32)
            return Sequences(ids, labels, offsets)
        arrays = []
        for fh in self._files:
            fh.flush()
            arrays.append(np.memmap(fh, dtype=np.int32, mode="r") if offsets[-1] else np.zeros(0, np.int32))
            fh.close()  # the mapping keeps the file's pages; the file itself went with its name
        return Sequences(arrays[0], arrays[1], offsets)


def _unnamed(folder: Path) -> BinaryIO:
    """A file in ``folder`` with no name: nothing to clean up after a crash, and its disk space returns when the process ends."""
    return tempfile.TemporaryFile(dir=folder)  # type: ignore[return-value]
