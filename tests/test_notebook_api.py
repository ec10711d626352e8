"""The notebook API: seqsuite.fit on data in memory for each task, Run, load, save."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import seqsuite
from seqsuite.errors import UserError

torch.set_num_threads(1)


def monthly_series(n: int = 120) -> pd.Series:
    steps = np.arange(n)
    values = 10 + np.sin(steps * 2 * np.pi / 12) + 0.02 * steps
    values += np.random.default_rng(0).normal(0, 0.05, n)
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=n, freq="MS"))


def labelled_texts(n: int = 60) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    out = []
    for k in range(n):
        label = "pos" if k % 2 else "neg"
        out.append((" ".join(rng.choice(words[label], 4)), label))
    return out


def tone(freq: float, seed: int, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(0.4 * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def melody(k: int):
    import music21

    stream = music21.stream.Stream()
    for i in range(16):
        stream.append(music21.note.Note(60 + (i * k) % 12, quarterLength=1))
    return stream


SMALL = {"backbone": {"hidden_size": 16, "num_layers": 1, "bidirectional": False}}


def test_forecast_notebook_on_a_pandas_series():
    series = monthly_series()
    run = seqsuite.fit("forecast", series, train={"epochs": 3}, task={"horizon": 6}, **SMALL)
    assert run.task == "forecast" and run.metrics["test"]["mase"] > 0
    assert set(run.baselines) >= {"naive", "seasonal_naive"}
    assert list(run.history["epoch"]) == [1, 2, 3]
    data = pd.read_csv(run.path / "data" / "series.csv")
    assert list(data.columns) == ["time", "value"] and data["time"][0] == "2000-01-01"
    ahead = run.predict(series.iloc[:60], horizon=3)  # a series in -> a frame out
    assert isinstance(ahead, pd.DataFrame) and list(ahead["time"]) == [
        "2005-01-01",
        "2005-02-01",
        "2005-03-01",
    ]
    assert abs(ahead["forecast"].iloc[0] - series.iloc[60]) < 1.0
    # the run is an ordinary run directory: eval and the CLI read it
    assert seqsuite.evaluate(run.path, quiet=True)["test"] == run.metrics["test"]


def test_sentiment_notebook_on_text_label_pairs():
    run = seqsuite.fit(
        "sentiment",
        labelled_texts(),
        train={"epochs": 6, "lr": 0.01},
        task={"embedding_dim": 16, "min_freq": 1},
        **SMALL,
    )
    assert run.metrics["test"]["accuracy"] >= 0.8  # four words per class: easily separable
    one = run.predict("good great lovely")  # one text -> one row
    assert one["label"] == "pos"
    many = run.predict(["awful poor dull", "fine good"])  # a list -> a list
    assert [r["label"] for r in many] == ["neg", "pos"]
    frame = run.predict(pd.DataFrame({"text": ["bad bad", "great"]}))  # a frame -> a frame
    assert isinstance(frame, pd.DataFrame) and list(frame["label"]) == ["neg", "pos"]


def test_sentiment_accepts_a_dataframe_and_its_columns():
    texts = labelled_texts()
    frame = pd.DataFrame({"review": [t for t, _ in texts], "stars": [lab for _, lab in texts]})
    run = seqsuite.fit(
        "sentiment",
        frame,
        train={"epochs": 1},
        task={"text_column": "review", "label_column": "stars", "embedding_dim": 8},
        **SMALL,
    )
    assert json.loads((run.path / "task_state.json").read_text())["state"]["classes"] == [
        "neg",
        "pos",
    ]
    answers = run.predict(pd.Series(["good great fine", "bad awful dull"]))
    assert isinstance(answers, pd.DataFrame) and len(answers) == 2
    assert run.predict(np.array(["good great"])).shape[0] == 1
    with pytest.raises(UserError, match=r"item \[1\] is NoneType"):
        run.predict(["good", None])


def test_textgen_notebook_on_a_string():
    text = "to be or not to be, that is the question. " * 150
    run = seqsuite.fit(
        "textgen",
        text,
        train={
            "max_steps": 60,
            "time_budget": 0.0,
            "eval_every": 30,
            "batch_size": 4,
            "lr": 0.01,
            "warmup_steps": 0,
        },
        task={"bptt": 20, "sample_length": 20},
        **SMALL,
    )
    assert run.metrics["test"]["nll"] < run.baselines["unigram"]["nll"]
    sample = run.generate(length=25, prompt="to ", seed=1)
    assert sample["text"].startswith("to ") and Path(sample["path"]).exists()


def test_speech_notebook_on_waveforms():
    items = [(tone(300 if k % 2 else 1200, k), 8000, "low" if k % 2 else "high") for k in range(40)]
    run = seqsuite.fit(
        "speech",
        items,
        train={"epochs": 8, "lr": 0.01, "schedule": "constant"},
        task={"sample_rate": 8000},
        **SMALL,
    )
    assert run.metrics["test"]["accuracy"] == 1.0
    manifest = pd.read_csv(run.path / "data" / "manifest.csv")
    assert len(manifest) == 40 and set(manifest["label"]) == {"low", "high"}
    rows = run.predict([(tone(300, 99), 8000), (tone(1200, 98), 8000)])
    assert [r["label"] for r in rows] == ["low", "high"]
    assert [r["file"] for r in rows] == ["input-0000.wav", "input-0001.wav"]


def test_music_notebook_on_music21_scores():
    run = seqsuite.fit(
        "music",
        [melody(k) for k in range(1, 11)],
        train={"epochs": 2},
        task={"embedding_dim": 8, "transpose": False},
        **SMALL,
    )
    assert len(list((run.path / "data" / "pieces").glob("*.mid"))) == 10
    sample = run.generate(length=12, seed=2)
    assert sample["notes"] > 0 and Path(sample["path"]).suffix == ".mid"


def test_run_saves_and_loads_a_portable_model(tmp_path):
    run = seqsuite.fit("forecast", monthly_series(), train={"epochs": 2}, **SMALL)
    saved = run.save(tmp_path / "my-model")
    assert sorted(p.name for p in saved.iterdir()) == [
        "README.md",
        "config.toml",
        "forecaster.json",
        "metrics.json",
        "model.safetensors",
        "task_state.json",
    ]
    again = seqsuite.load(saved)
    assert again.metrics["test"] == run.metrics["test"]
    assert again.history.empty  # a model folder holds no training history
    expected = run.predict(horizon=4)
    pd.testing.assert_frame_equal(again.predict(horizon=4), expected)


def test_repr_html_shows_metrics_against_baselines_and_plots():
    run = seqsuite.fit("forecast", monthly_series(), train={"epochs": 2}, **SMALL)
    page = run._repr_html_()
    assert "<table>" in page and "seasonal_naive" in page and "data:image/png;base64," in page
    assert "mase" in repr(run)
    figure = run.plot("forecast")
    assert len(figure.axes) == 1


def test_unknown_keyword_and_bad_data_are_one_line_errors():
    with pytest.raises(UserError, match="unknown keyword 'trian'"):
        seqsuite.fit("forecast", monthly_series(), trian={"epochs": 1})
    with pytest.raises(UserError, match=r"expected \(text, label\) pairs"):
        seqsuite.fit("sentiment", [1, 2, 3])
    with pytest.raises(UserError, match="one series"):
        seqsuite.fit("forecast", np.zeros((10, 3)))
    with pytest.raises(UserError, match="expected numbers .* got list"):
        seqsuite.fit("forecast", ["a"] * 100)
    with pytest.raises(UserError, match="expected numbers .* got dict"):
        seqsuite.fit("forecast", {"a": 1})
    with pytest.raises(UserError, match="epocs"):
        seqsuite.fit("forecast", monthly_series(), train={"epocs": 1})
    with pytest.raises(UserError, match="train.epochs"):
        seqsuite.fit("forecast", monthly_series(), train={"epochs": -1})
    assert not Path("runs").exists() or not any(Path("runs").iterdir())  # nothing half-made


def test_in_memory_run_resumes_and_evaluates_from_its_data_folder(cli):
    run = seqsuite.fit("forecast", monthly_series(), train={"epochs": 2}, **SMALL)
    (run.path / "metrics.json").unlink()  # as if interrupted before the end
    again = seqsuite.resume(run.path, quiet=True)
    assert again.metrics["test"] == run.metrics["test"]
    result = cli("eval", str(run.path), "--json")
    assert result.code == 0 and json.loads(result.out)["test"] == run.metrics["test"]


def test_sequence_regressor_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))
    model = seqsuite.SequenceRegressor(2, backbone=seqsuite.BackboneConfig(hidden_size=8))
    model.fit(x, y, seqsuite.TrainConfig(epochs=2, batch_size=16))
    model.save(tmp_path / "reg")
    assert sorted(p.name for p in (tmp_path / "reg").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = seqsuite.SequenceRegressor.load(tmp_path / "reg")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))


def test_a_short_text_is_text_and_a_file_name_is_a_path():
    from seqsuite.api import is_path

    assert is_path("reviews.csv") and is_path("data/") and is_path(Path("x"))
    assert not is_path("Hello.") and not is_path("Hello world.txt is here")
    assert not is_path("a sentence.\nAnother one.")
