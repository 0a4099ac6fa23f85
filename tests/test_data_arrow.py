"""Arrow files (what ``datasets`` writes to its cache and with ``save_to_disk``) read like Parquet; folders of data say which file to pass."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data import DataError, DataSpec, detect_format, iter_examples, scan

TABLE = pa.table({"instruction": [f"say {i}" for i in range(300)], "output": [f"{i}" for i in range(300)]})


def write_stream(path: Path, table: pa.Table = TABLE) -> Path:
    with pa.ipc.new_stream(str(path), table.schema) as writer:  # datasets' format: a stream, several batches
        for batch in table.to_batches(max_chunksize=64):
            writer.write_batch(batch)
    return path


def test_an_arrow_stream_and_an_arrow_file_read_as_the_same_rows_in_parquet_do(tmp_path: Path) -> None:
    stream = write_stream(tmp_path / "data-00000-of-00001.arrow")
    file = tmp_path / "rows.feather"  # the file format (Feather v2), under a name that says nothing
    with pa.ipc.new_file(str(file), TABLE.schema) as writer:
        writer.write_table(TABLE, max_chunksize=100)
    parquet = tmp_path / "rows.parquet"
    pq.write_table(TABLE, parquet)
    assert [detect_format(DataSpec(p)) for p in (stream, file, parquet)] == ["arrow", "arrow", "parquet"]
    expected = list(iter_examples(DataSpec(parquet)))
    assert list(iter_examples(DataSpec(stream))) == expected == list(iter_examples(DataSpec(file)))
    assert expected[299].line == 300 and expected[0].messages[-1].content == "0"


def test_progress_goes_to_the_file_size(tmp_path: Path) -> None:
    path = write_stream(tmp_path / "d.arrow")
    seen: list[tuple[int, int]] = []
    report = scan(DataSpec(path), on_progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert report.examples == 300 and seen[-1] == (size, size) and len(seen) >= 5
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_cut_arrow_file_is_one_error(tmp_path: Path) -> None:
    whole = write_stream(tmp_path / "whole.arrow").read_bytes()
    path = tmp_path / "cut.arrow"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError) as caught:
        list(iter_examples(DataSpec(path)))
    assert caught.value.code == "malformed_arrow" and "not a readable Arrow file" in caught.value.message


def test_arrow_is_a_format_to_force(tmp_path: Path) -> None:
    path = write_stream(tmp_path / "d.bin")
    assert detect_format(DataSpec(path, format="arrow")) == "arrow"
    assert len(list(iter_examples(DataSpec(path, format="alpaca")))) == 300


def _folder_error(path: Path) -> str:
    with pytest.raises(DataError) as caught:
        detect_format(DataSpec(path))
    assert caught.value.code == "unreadable"
    return caught.value.message


def test_folders_say_which_file_to_pass(tmp_path: Path) -> None:
    saved = tmp_path / "saved"  # Dataset.save_to_disk
    saved.mkdir()
    write_stream(saved / "data-00000-of-00001.arrow")
    (saved / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (saved / "dataset_info.json").write_text("{}")
    assert _folder_error(saved) == "is a datasets save_to_disk folder, not a file: pass the data file in it, data-00000-of-00001.arrow"

    splits = tmp_path / "splits"  # DatasetDict.save_to_disk
    for split in ("test", "train"):
        (splits / split).mkdir(parents=True)
        write_stream(splits / split / "data-00000-of-00001.arrow")
        (splits / split / "state.json").write_text("{}")
    (splits / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    assert _folder_error(splits) == (
        "is a folder: a datasets DatasetDict (splits train, test); pass a split's .arrow file, e.g. train/data-00000-of-00001.arrow"
    )

    shards = tmp_path / "shards"  # a dataset downloaded from the Hub
    shards.mkdir()
    for i in range(3):
        pq.write_table(TABLE, shards / f"train-0000{i}-of-00003.parquet")
    assert _folder_error(shards) == (
        "is a folder of 3 data files (train-00000-of-00003.parquet, ...): pass one of them, or join them into one file first"
    )

    (shards / "notes.txt").write_text("mixed in")
    assert _folder_error(shards) == _folder_error(tmp_path / "saved" / ".." / "..") == "is a folder, not a file"
