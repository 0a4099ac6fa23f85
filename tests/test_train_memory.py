"""Training data kept compactly: the same ids, labels and rows as before, in memory that does not grow with the corpus.

``fixtures/train_rows/expected.json`` holds digests of the windows and packed
rows that the code before this change (lists of ints, the file read whole)
made from the bundled data, with the bundled model's tokenizer: the rows a
run trains on must stay exactly those.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data import DataSpec, split_examples
from engine.paths import SAMPLE_DATA
from engine.train import dataset, templates
from engine.train import tokenize as tok_module
from engine.train.packing import plan_rows
from engine.train.sequences import SequenceWriter
from engine.train.tokenize import IGNORE, Encoded

REPO = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "train_rows" / "expected.json").read_text())
TINY = SAMPLE_DATA / "models" / "finetui-tiny"


@pytest.fixture(scope="module")
def bundled_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TINY))


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps([[int(t) for t in p] for p in parts]).encode()).hexdigest()[:16]


def _prepared(case: str, tokenizer, folder: Path) -> tuple[dataset.Split, dataset.Tokenized, list]:
    """What ``finetune.prepare`` makes of a case's file: the split, the tokens and the packed rows (seq_len 512)."""
    expected = EXPECTED[case]
    spec = DataSpec(REPO / expected["path"], separator=expected["separator"])
    split = dataset.read_split(spec, 0.1, 0)
    template = templates.resolve("auto", set(split.kinds), tokenizer)
    tokens = dataset.tokenize_split(spec, split, template, tokenizer, 512, folder=folder, keep_held=3)
    rows = dataset.train_rows(tokens.train, 512, packing=True)
    return split, tokens, [rows[r] for r in range(len(rows))]


def _check_against_frozen(case: str, tokenizer, folder: Path) -> None:
    expected = EXPECTED[case]
    split, tokens, rows = _prepared(case, tokenizer, folder)
    assert (split.train_examples, split.eval_examples) == (expected["train_examples"], expected["eval_examples"])
    assert [_digest(w.input_ids, w.labels) for w in tokens.train] == expected["train_windows"]
    assert [_digest(w.input_ids, w.labels) for w in tokens.held] == expected["eval_windows"]
    assert [_digest(r.input_ids, r.labels, r.position_ids) for r in rows] == expected["rows"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["haiku", "facts"])
def test_rows_are_those_the_list_code_made(case, bundled_tokenizer, tmp_path):
    _check_against_frozen(case, bundled_tokenizer, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["shakespeare-paragraphs", "shakespeare-one-piece"])
def test_long_text_rows_are_those_the_list_code_made(case, bundled_tokenizer, tmp_path):
    """Paragraphs of a 1 MB play, and the play as one piece of a million characters, tokenized in windows."""
    _check_against_frozen(case, bundled_tokenizer, tmp_path)


@pytest.mark.slow
def test_the_split_is_split_examples(bundled_tokenizer, tmp_path):
    """Two streaming reads give the split ``split_examples`` gives, and keep the first held-out examples for the samples."""
    spec = DataSpec(SAMPLE_DATA / "facts.jsonl")
    train, held = split_examples(spec, 0.1, 0)
    split = dataset.read_split(spec, 0.1, 0)
    assert (split.train_examples, split.eval_examples) == (len(train), len(held))
    tokens = dataset.tokenize_split(spec, split, templates.resolve("auto", set(split.kinds), bundled_tokenizer), bundled_tokenizer, 512, keep_held=5)
    assert tokens.first_held == held[:5]


def test_a_file_changed_between_the_reads_is_refused(tmp_path, tokenizer):
    data = tmp_path / "d.txt"
    data.write_text("\n--S--\n".join(f"example {i}" for i in range(20)))
    spec = DataSpec(data, separator="--S--")
    split = dataset.read_split(spec, 0.1, 0)
    data.write_text("\n--S--\n".join(f"example {i}" for i in range(25)))
    with pytest.raises(Exception, match="changed while the run was reading it"):
        dataset.tokenize_split(spec, split, templates.resolve("auto", set(split.kinds), tokenizer), tokenizer, 64)


@pytest.mark.parametrize("sizes", [(60_000, 4096, 512), (2000, 400, 100), (300, 64, 8)], ids=["default-ish", "small", "tiny"])
def test_text_in_windows_joins_to_the_whole(tokenizer, monkeypatch, sizes):
    """Pieces of a long text tokenized apart join to exactly the ids of the whole: spaces, newlines, digits, accents, emoji."""
    chunk, overlap, context = sizes
    monkeypatch.setattr(tok_module, "CHUNK_CHARS", chunk)
    monkeypatch.setattr(tok_module, "OVERLAP_CHARS", overlap)
    monkeypatch.setattr(tok_module, "CONTEXT_CHARS", context)
    rnd = random.Random(0)
    words = ["the", "quick", "brown", "fox", "  ", "\n", "\n\n", "1912", "café", "日本", "😀", "don't", "—", "a"]
    text = "".join(rnd.choice(words) + rnd.choice([" ", "", "  "]) for _ in range(40_000))
    pieces = list(tok_module.text_ids(tokenizer, text))
    assert len(pieces) > 1
    assert [t for p in pieces for t in p] == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_windows_join_for_a_tokenizer_that_marks_the_start_of_a_text(monkeypatch):
    """SentencePiece-style (Metaspace, a "▁" put before every text): a window read from the cut would start with one the whole text lacks there."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.tiny_model import CORPUS

    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    model.train_from_iterator([CORPUS * 20], trainers.BpeTrainer(vocab_size=120, special_tokens=["<s>", "</s>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=model, bos_token="<s>", eos_token="</s>")
    monkeypatch.setattr(tok_module, "CHUNK_CHARS", 2000)
    monkeypatch.setattr(tok_module, "OVERLAP_CHARS", 400)
    rnd = random.Random(0)
    text = " ".join(rnd.choice(CORPUS.split()) for _ in range(20_000))
    assert [t for p in tok_module.text_ids(tokenizer, text) for t in p] == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_text_with_no_break_keeps_every_character(tokenizer, monkeypatch):
    """Thousands of letters with no break: the windows may cut inside them, but decode to the same text."""
    monkeypatch.setattr(tok_module, "CHUNK_CHARS", 500)
    monkeypatch.setattr(tok_module, "OVERLAP_CHARS", 128)
    text = "".join(random.Random(1).choice("abcdefghij") for _ in range(20_000))
    ids = [t for p in tok_module.text_ids(tokenizer, text) for t in p]
    assert tokenizer.decode(ids) == text


def test_windows_of_a_long_text_are_the_windows_of_its_whole_ids(tokenizer, monkeypatch):
    monkeypatch.setattr(tok_module, "CHUNK_CHARS", 300)
    monkeypatch.setattr(tok_module, "OVERLAP_CHARS", 64)
    from engine.data import Example

    text = " ".join(f"word{i}" for i in range(3000))
    example = Example(0, 1, "text", text=text)
    whole = tok_module.encode(example, tokenizer, 10**9)
    for max_len in (1, 2, 16, 17, 512):
        windows = list(tok_module.iter_windows(example, tokenizer, max_len))
        expected = [] if max_len == 1 else [whole.input_ids[s : s + max_len] for s in range(0, len(whole), max_len)]
        expected = [w for w in expected if len(w) >= 2]
        assert [w.input_ids for w in windows] == expected
        assert all(w.labels == [IGNORE] + w.input_ids[1:] for w in windows)


def test_sequences_on_disk_are_the_sequences_added_and_leave_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.train.sequences.BUFFER_TOKENS", 7)  # several writes
    rnd = random.Random(2)
    added = []
    for _ in range(50):
        ids = [rnd.randrange(50_000) for _ in range(rnd.randrange(0, 20))]
        added.append(Encoded(ids, [IGNORE] + ids[1:] if ids else []))
    on_disk, in_memory = SequenceWriter(tmp_path), SequenceWriter()
    for e in added:
        on_disk.add(e)
        in_memory.add(e)
    mapped, kept = on_disk.finish(), in_memory.finish()
    for sequences in (mapped, kept):
        assert len(sequences) == 50 and sequences.tokens == sum(map(len, added))
        assert [(list(s.input_ids), list(s.labels)) for s in sequences] == [(e.input_ids, e.labels) for e in added]
        assert [s.trained_tokens for s in sequences] == [e.trained_tokens for e in added]
    assert isinstance(mapped.ids, np.memmap) and list(tmp_path.iterdir()) == []
    assert len(SequenceWriter(tmp_path).finish()) == 0


def _first_fit_by_scan(lengths: list[int], seq_len: int) -> list[list[tuple[int, int]]]:
    """First fit decreasing as the list code did it: every row scanned for room, for each sequence."""
    rows: list[list[tuple[int, int]]] = []
    free: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size = min(lengths[i], seq_len)
        if size == 0:
            continue
        slot = next((r for r, room in enumerate(free) if room >= size), None)
        if slot is None:
            rows.append([])
            free.append(seq_len)
            slot = len(rows) - 1
        rows[slot].append((i, size))
        free[slot] -= size
    return rows


def test_plan_rows_is_first_fit_decreasing():
    rnd = random.Random(3)
    for _ in range(200):
        seq_len = rnd.choice([1, 8, 64])
        lengths = [rnd.choice([0, 1, seq_len, rnd.randrange(0, 3 * seq_len)]) for _ in range(rnd.randrange(0, 80))]
        plan = plan_rows(lengths, seq_len)
        got = [list(zip(plan.sequence[a:b].tolist(), plan.size[a:b].tolist(), strict=True)) for a, b in zip(plan.starts[:-1], plan.starts[1:], strict=True)]
        assert got == _first_fit_by_scan(lengths, seq_len)


#: Runs ``finetune.prepare`` on the run folder given (the model, the data, the adapter) and prints the process's peak RSS.
#: The baseline is recorded beforehand, as a resumed run finds it: its scoring weighs what a batch of logits does, not the data.
_PREPARE = """
import sys
from pathlib import Path
from engine.runs import Run
from engine.runs.events import EvalEvent, EvalFigures
from engine.train.finetune import prepare
run = Run(Path(sys.argv[1]))
run.append(EvalEvent(which="baseline", figures=EvalFigures(None, None, 0)))
session = prepare(run, resume=True)
assert len(session.rows) > 0
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) * 1024)
"""


def _prepare_peak(data: Path) -> int:
    from engine.config import DataConfig, RunConfig, TrainConfig
    from engine.runs import RunStore

    run = RunStore().create(RunConfig(data.stem, DataConfig(str(data), eval_fraction=0.01), train=TrainConfig(max_steps=1, samples=0)))
    # One thread each and two malloc arenas: per-thread arenas otherwise add tens of MB of noise to the peak, either way.
    quiet = {"OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run([sys.executable, "-c", _PREPARE, str(run.dir)], capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ, **quiet})
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_prepare_memory_does_not_grow_with_a_long_line(tmp_path):
    """One line of 2 MB, then of 10 MB: the training process's peak grows by under 2 bytes a byte of text added (the lists took 25)."""
    books = sorted((SAMPLE_DATA / "corpus-v2").glob("*.txt"))
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in books[:6])
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text(text[:2_000_000], encoding="utf-8")
    large.write_text((text * 5)[:10_000_000], encoding="utf-8")
    growth = _prepare_peak(large) - _prepare_peak(small)
    assert growth < 16_000_000, f"peak RSS grew by {growth / 1e6:.0f} MB for 8 MB more text"
