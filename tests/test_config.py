"""Each setting declared once in engine.config: its checks, its flag, and errors that name it by path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.config import ConfigError, DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig, setting, settings
from engine.data import FORMATS
from engine.errors import Hint
from tui.cli import main
from tui.commands.flags import flagged, hint_text, worded
from tui.commands.train import build_config, user_settings
from tui.parser import build_parser
from tui.screens.train import FORM

REPO = Path(__file__).resolve().parent.parent
HAIKU = REPO / "sample_data/haiku.txt"


def test_every_setting_is_declared_whole() -> None:
    """Help for all; a flag for all but the data file; a label for each on the train form, short enough for its grid."""
    paths = [s.path for s in settings()]
    assert len(paths) == len(set(paths)) and "model.trust_remote_code" in paths
    for s in settings():
        assert s.meta.help, s.path
        assert s.meta.flag or s.path == "data.path", s.path
        if s.meta.form not in ("data", "cli"):
            assert 0 < len(s.meta.label) <= 10, s.path
    flags = [s.meta.flag for s in flagged()]
    labels = [s.meta.label for s in FORM]
    assert len(flags) == len(set(flags)) and len(labels) == len(set(labels))
    # every setting reaches the TUI: on the train form, or on the data screen (the file and how to read it); multi-node ones only the CLI
    assert {s.path for s in FORM} | {s.path for s in settings() if s.meta.form in ("data", "cli")} == set(paths)


def test_the_format_help_names_every_format_read() -> None:
    assert all(name in setting("data.format").meta.help for name in FORMATS)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("make", "path", "message"),
    [
        (lambda: TrainConfig(batch_size=0), "train.batch_size", "train.batch_size must be at least 1, not 0"),
        (lambda: TrainConfig(batch_size=65537), "train.batch_size", "train.batch_size must be at most 65,536, not 65537"),
        (lambda: TrainConfig(lr=3), "train.lr", "train.lr must be between 0 and 1, not 3"),
        (lambda: TrainConfig(epochs=math.nan), "train.epochs", "train.epochs must be positive, not nan"),
        (lambda: TrainConfig(seed=2**32), "train.seed", "train.seed must be at most 4,294,967,295, not 4294967296"),
        (lambda: TrainConfig(max_steps=0), "train.max_steps", "train.max_steps must be at least 1, not 0"),
        (lambda: TrainConfig(batch_size=True), "train.batch_size", "train.batch_size must be a whole number, not True"),
        (lambda: TrainConfig(lr="0.1"), "train.lr", "train.lr must be a number, not '0.1'"),
        (lambda: TrainConfig(packing="yes"), "train.packing", "train.packing must be true or false, not 'yes'"),
        (lambda: LoraConfig(dropout=1.0), "lora.dropout", "lora.dropout must be less than 1, not 1.0"),
        (lambda: ModelConfig(quant="2bit"), "model.quant", "model.quant must be one of 4bit, 8bit, none, not '2bit'"),
        (lambda: ModelConfig(name=" "), "model.name", "model.name must be a model name or path, not ' '"),
        (lambda: DataConfig("x", eval_fraction=0), "data.eval_fraction", "data.eval_fraction must be between 0 and 1, not 0"),
    ],
)
def test_a_bad_value_names_its_setting_by_path(make, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert (info.value.path, str(info.value)) == (path, message)
    assert info.value.hint is not None and info.value.hint.setting == path


def test_config_json_errors_carry_the_path_too() -> None:
    raw = RunConfig("x", DataConfig("d.txt")).to_dict()
    for section, key, path in (("train", "warp", "train.warp"), ("lora", "rank", "lora.rank")):
        bad = {**raw, section: {**raw[section], key: 1}}
        with pytest.raises(ConfigError) as info:
            RunConfig.from_dict(bad)
        assert (info.value.path, info.value.code) == (path, "unknown_key")
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({**raw, "model": "tiny"})
    assert (info.value.path, info.value.code) == ("model", "wrong_type")
    # ints where floats are declared, as hand-written files have them, still read
    assert RunConfig.from_dict({**raw, "train": {**raw["train"], "epochs": 2}}).train.epochs == 2


def test_each_flag_lands_in_its_setting_and_only_given_ones_count_as_the_users() -> None:
    parser, _ = build_parser()
    args = parser.parse_args(
        ["train", str(HAIKU), "--logging-steps", "5", "--no-packing", "--quant", "none", "--trust-remote-code", "--map", "prompt=q", "--eval-fraction", "0.2"]
    )
    config = build_config(args)
    assert (config.train.logging_steps, config.train.packing, config.model.quant, config.model.trust_remote_code) == (5, False, "none", True)
    assert (config.data.mapping, config.data.eval_fraction) == ("prompt=q", 0.2)
    assert user_settings(args) == {"train.logging_steps", "train.packing", "model.quant", "model.trust_remote_code", "data.mapping", "data.eval_fraction"}
    plain = build_config(parser.parse_args(["train", str(HAIKU)]))
    assert plain == RunConfig(HAIKU.stem, DataConfig(str(HAIKU))), "no flags: the config's own defaults"
    assert build_config(parser.parse_args(["train", "data/train.jsonl.gz"])).name == "train", "named without .jsonl.gz"


def test_the_cli_words_errors_with_its_flags(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    assert main(["train", str(HAIKU), "--batch-size", "0"]) == 2
    assert capsys.readouterr().err == "finetui train: error: --batch-size must be at least 1, not 0\n"
    assert hint_text(Hint("model.trust_remote_code", True, "if you trust it")) == "pass --trust-remote-code if you trust it"
    assert hint_text(Hint("train.packing", False)) == "pass --no-packing"
    assert hint_text(Hint("model.quant")) == "see --quant"
    error = ConfigError("train.lr", "train.lr must be between 0 and 1, not 3", need="between 0 and 1", value=3)
    assert worded(error) == "--lr must be between 0 and 1, not 3"
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())


def test_no_eval_split_points_each_front_end_at_the_eval_share(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """The engine names the setting (``data.eval_fraction``); the CLI says its flag, the form its field, a run's reason the path."""
    from engine.runs.lifecycle import NoEvalSplit
    from tui.screens.train import worded as form_worded

    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    one = tmp_path / "one.txt"
    one.write_text("just one example here, quite short.\n")
    assert main(["train", str(one), "--max-steps", "1"]) == 2
    said = f"{one}: 1 example leaves none for the eval split, so the run could not be scored: add examples, or hold out a larger share of them"
    assert capsys.readouterr().err == f"finetui train: error: {said}; see --eval-fraction\n"
    error = NoEvalSplit(f"{one}: 1 example leaves none for the eval split, so the run could not be scored")
    assert form_worded(error) == f"{said}; change Eval frac"
    assert str(error) == f"{said}; set data.eval_fraction", "a failed run's reason, in the config's terms"
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())


def test_the_form_words_the_same_errors_with_its_labels() -> None:
    from tui.screens.train import hint_text as form_hint
    from tui.screens.train import worded as form_worded

    assert form_hint(Hint("model.trust_remote_code", True, "if you trust it")) == "tick Trust code if you trust it"
    assert form_hint(Hint("model.quant", "none", "to load the model unquantized")) == "set Quant to none to load the model unquantized"
    with pytest.raises(ConfigError) as info:
        TrainConfig(seq_len=4)
    assert form_worded(info.value) == "Seq len must be at least 8, not 4"
    assert worded(info.value) == "--seq-len must be at least 8, not 4"
