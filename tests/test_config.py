"""Configuration: layers, typed --set values, and errors that name the nearest valid key."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from seqsuite import config as configs
from seqsuite.errors import UserError
from seqsuite.registry import get_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def forecast():
    return get_task("forecast")


def test_defaults_come_from_dataclasses_and_the_task(forecast):
    config = configs.resolve(forecast)
    assert config.run.task == "forecast" and config.run.dataset == "co2"
    assert config.backbone.cell == "lstm"
    assert config.train.epochs == forecast.defaults["train"]["epochs"]


def test_set_values_are_typed(forecast):
    config = configs.resolve(
        forecast,
        sets=[
            "train.lr=3e-4",
            "backbone.bidirectional=true",
            "backbone.hidden_size=16",
            "task.column=2020",
        ],
    )
    assert config.train.lr == pytest.approx(3e-4)
    assert config.backbone.bidirectional is True
    assert config.backbone.hidden_size == 16
    assert config.task.column == "2020"


def test_layers_apply_in_order_file_then_set_then_flags(forecast, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 7\nlr = 0.01\n[backbone]\ncell = 'gru'\n")
    config = configs.resolve(forecast, [path], ["train.lr=0.02"], {"train": {"epochs": 3}})
    assert (config.train.epochs, config.train.lr, config.backbone.cell) == (3, 0.02, "gru")


@pytest.mark.parametrize(
    "pair, message",
    [
        ("train.epocs=3", "did you mean 'train.epochs'"),
        ("backbone.hiden_size=3", "did you mean 'backbone.hidden_size'"),
        ("train.epochs=abc", "expected an integer"),
        ("train.epochs=-1", "expected a value >= 1"),
        ("backbone.hidden_size=0", "expected a value >= 1"),
        ("backbone.cell=lsmt", "did you mean 'lstm'"),
        ("backbone.dropout=1.5", "expected a value < 1.0"),
        ("train.epochs", "expected KEY=VALUE"),
        ("epochs=3", "expected a key SECTION.NAME"),
        ("trian.epochs=3", "did you mean 'train'"),
    ],
)
def test_bad_set_is_a_user_error_that_says_what_was_expected(forecast, pair, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        configs.resolve(forecast, sets=[pair])


def test_error_names_the_file_that_set_a_bad_value(forecast, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nepochs = 'many'\n")
    with pytest.raises(UserError, match=r"bad.toml: train.epochs: got 'many', expected an integer"):
        configs.resolve(forecast, [path])


def test_projection_must_be_smaller_than_hidden_size(forecast):
    with pytest.raises(UserError, match="proj_size"):
        configs.resolve(forecast, sets=["backbone.proj_size=64", "backbone.hidden_size=32"])


def test_invalid_toml_names_the_file(forecast, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[train\nepochs = 3")
    with pytest.raises(UserError, match="broken.toml: invalid TOML"):
        configs.resolve(forecast, [path])


def test_resolved_config_round_trips_through_toml(forecast):
    config = configs.resolve(forecast, sets=["train.lr=0.01"])
    again = configs.from_dict(forecast, tomllib.loads(config.to_toml()))
    assert again == config


BUILTIN = sorted(
    e.name for e in entry_points(group="seqsuite.tasks") if e.dist and e.dist.name == "seqsuite"
)


@pytest.mark.parametrize("name", BUILTIN)
def test_configs_folder_agrees_with_the_task_defaults(name):
    """configs/<task>.toml is the file users copy; it must match what the task runs with."""
    task = get_task(name)
    shipped = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    assert shipped == configs.resolve(task).to_dict()


def test_backbone_presets_are_valid(forecast):
    presets = sorted((ROOT / "configs" / "backbones").glob("*.toml"))
    assert presets
    for path in presets:
        configs.resolve(forecast, [path])
