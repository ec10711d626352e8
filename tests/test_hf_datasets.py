"""Hugging Face data sets: small Datasets built here, saved with save_to_disk and run
offline by each task through --dataset (own splits, class names, time columns, Audio
bytes, MIDI bytes, streaming bounded by data.max_rows)."""

from __future__ import annotations

import io
import json
import time
import tomllib
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import soundfile

from seqsuite import hub
from seqsuite.errors import UserError

SMALL = ["--set", "backbone.hidden_size=16", "--set", "backbone.num_layers=1"]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "cache"))


def sentiment_dataset(path: Path, sizes=(("train", 80), ("validation", 20), ("test", 20))) -> Path:
    rng = np.random.default_rng(0)
    words = [["bad", "awful", "poor", "dull"], ["good", "great", "fine", "lovely"]]
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    splits = {}
    for name, n in sizes:
        labels = rng.integers(0, 2, n)
        texts = [" ".join(rng.choice(words[k], 3)) for k in labels]
        splits[name] = datasets.Dataset.from_dict(
            {"sentence": texts, "label": labels.tolist()}, features=features
        )
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


def run_json(cli, *args: str) -> dict:
    result = cli("run", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_sentiment_reads_class_names_and_the_data_sets_own_splits(cli):
    saved = sentiment_dataset(Path("sst"))
    metrics = run_json(
        cli, "sentiment", "--dataset", "sst", "--out", "r", "--epochs", "1", *SMALL,
        "--set", "task.text_column=sentence", "--set", "task.embedding_dim=8",
        "--set", "task.min_freq=1",
    )  # fmt: skip
    assert metrics["dataset"] == str(saved)
    assert metrics["data"]["hub"]["rows"] == {"train": 80, "val": 20, "test": 20}
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["classes"] == ["neg", "pos"]  # ClassLabel names, not 0 and 1
    data_file = tomllib.loads(Path("r/config.toml").read_text())["run"]["data"]
    written = pd.read_json(data_file, lines=True)
    assert list(written["split"].value_counts().sort_index()) == [20, 80, 20]  # test train val
    assert set(written["label"]) == {"neg", "pos"}
    # eval reads the same written files again
    again = cli("eval", "r", "--json")
    assert again.code == 0 and json.loads(again.out)["test"] == metrics["test"]


def test_forecast_keeps_the_time_column_and_uses_val_and_test_splits(cli):
    times = pd.date_range("2000-01-01", periods=120, freq="MS").strftime("%Y-%m-%d")
    values = 10 + np.sin(np.arange(120) * 2 * np.pi / 12) + 0.01 * np.arange(120)
    parts = {"train": slice(0, 96), "validation": slice(96, 108), "test": slice(108, 120)}
    datasets.DatasetDict(
        {
            name: datasets.Dataset.from_dict({"date": list(times[s]), "y": values[s].tolist()})
            for name, s in parts.items()
        }
    ).save_to_disk("series")
    metrics = run_json(
        cli, "forecast", "--dataset", "series", "--out", "f", "--epochs", "1", *SMALL,
        "--set", "task.column=y", "--set", "task.horizon=6", "--set", "task.baselines=['naive']",
    )  # fmt: skip
    config = Path("f/config.toml").read_text()
    assert "test_size = 12" in config and "val_size = 12" in config
    forecast = pd.read_csv("f/forecast.csv")
    assert forecast["time"].iloc[0] == "2009-01-01" and len(forecast) == 12
    predicted = cli("predict", "f", "--option", "horizon=2", "--json")
    assert [r["time"] for r in json.loads(predicted.out)] == ["2010-01-01", "2010-02-01"]
    assert metrics["dataset"].endswith("series")


def wav_bytes(freq: float, seed: int, rate: int = 8000) -> bytes:
    t = np.arange(int(0.4 * rate)) / rate
    audio = 0.5 * np.sin(2 * np.pi * freq * t) + np.random.default_rng(seed).normal(0, 0.01, t.size)
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


def test_speech_reads_an_audio_column_in_the_speech_commands_layout(cli):
    """Columns of google/speech_commands: file, audio (bytes + path), label (ClassLabel),
    is_unknown, speaker_id, utterance_id; decoded with soundfile, not torchcodec."""
    names = ["yes", "no"]
    splits = {}
    for split, n in (("train", 24), ("validation", 6), ("test", 6)):
        labels = [k % 2 for k in range(n)]
        audio = [
            {"bytes": wav_bytes(300 if lab else 1200, k), "path": f"{names[lab]}/{split}{k}.wav"}
            for k, lab in enumerate(labels)
        ]
        data = datasets.Dataset.from_dict(
            {
                "file": [a["path"] for a in audio],
                "audio": audio,
                "label": labels,
                "is_unknown": [False] * n,
                "speaker_id": [f"s{k}" for k in range(n)],
                "utterance_id": [0] * n,
            }
        )
        data = data.cast_column("audio", datasets.Audio(sampling_rate=8000))
        splits[split] = data.cast_column("label", datasets.ClassLabel(names=names))
    datasets.DatasetDict(splits).save_to_disk("commands")
    metrics = run_json(
        cli, "speech", "--dataset", "commands", "--out", "s", "--epochs", "1", *SMALL,
        "--set", "task.sample_rate=8000",
    )  # fmt: skip
    assert metrics["data"]["hub"]["rows"] == {"train": 24, "val": 6, "test": 6}
    state = json.loads(Path("s/task_state.json").read_text())["state"]
    assert state["classes"] == ["no", "yes"]


def test_music_reads_a_column_of_midi_bytes(cli, tmp_path):
    from seqsuite_tasks.music.midi import write_midi

    pieces = []
    for k in range(10):
        write_midi(
            tmp_path / "p.mid", [(60 + (i * (k + 1)) % 12, float(i), 1.0) for i in range(12)]
        )
        pieces.append((tmp_path / "p.mid").read_bytes())
    datasets.Dataset.from_dict(
        {"midi": pieces, "title": [f"t{k}" for k in range(10)]}
    ).save_to_disk("tunes")
    metrics = run_json(
        cli, "music", "--dataset", "tunes", "--out", "m", "--epochs", "1", *SMALL,
        "--set", "task.transpose=false", "--set", "task.embedding_dim=8",
    )  # fmt: skip
    assert metrics["data"]["hub"]["rows"] == {"all": 10}
    assert metrics["test"]["nll"] > 0


def test_music_uses_the_data_sets_own_splits(cli, tmp_path):
    from seqsuite_tasks.music.midi import write_midi

    splits = {}
    for split, n in (("train", 8), ("validation", 2), ("test", 3)):
        pieces = []
        for k in range(n):
            write_midi(
                tmp_path / "p.mid", [(60 + (i * (k + 2)) % 12, float(i), 1.0) for i in range(12)]
            )
            pieces.append((tmp_path / "p.mid").read_bytes())
        splits[split] = datasets.Dataset.from_dict({"midi": pieces})
    datasets.DatasetDict(splits).save_to_disk("tunes")
    result = cli(
        "run", "music", "--dataset", "tunes", "--out", "m", "--epochs", "1", *SMALL,
        "--set", "task.transpose=false", "--set", "task.embedding_dim=8",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "8 train / 2 val / 3 test," in " ".join(result.out.split())


def test_textgen_takes_the_splits_shares_as_its_fractions(cli):
    lines = {s: [f"{s} line number {k} of the text" for k in range(n)] for s, n in
             (("train", 160), ("validation", 20), ("test", 20))}  # fmt: skip
    datasets.DatasetDict(
        {s: datasets.Dataset.from_dict({"text": v}) for s, v in lines.items()}
    ).save_to_disk("corpus")
    run_json(
        cli, "textgen", "--dataset", "corpus", "--out", "t", *SMALL,
        "--set", "train.max_steps=5", "--set", "train.time_budget=0", "--set", "task.bptt=16",
        "--set", "task.sample_length=10", "--set", "train.batch_size=4",
    )  # fmt: skip
    config = Path("t/config.toml").read_text()
    val = float(config.split("val_fraction = ")[1].split("\n")[0])
    test = float(config.split("test_fraction = ")[1].split("\n")[0])
    chars = {s: sum(len(line) + 1 for line in v) for s, v in lines.items()}  # lines + "\n"
    total = sum(chars.values())
    assert val == pytest.approx(chars["validation"] / total)
    assert test == pytest.approx(chars["test"] / total)


def test_streaming_reads_at_most_max_rows_and_a_larger_download_is_refused(cli):
    sentiment_dataset(Path("sst"))
    args = ["sentiment", "--dataset", "sst", "--epochs", "1", *SMALL,
            "--set", "task.text_column=sentence", "--set", "task.embedding_dim=8",
            "--set", "task.min_freq=1", "--set", "data.max_rows=15"]  # fmt: skip
    refused = cli("run", *args, "--out", "a")
    assert refused.code == 2 and "data.max_rows" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    metrics = run_json(cli, *args, "--set", "data.streaming=true", "--out", "b")
    assert metrics["data"]["hub"]["rows"] == {"train": 5, "val": 5, "test": 5}  # 15 in all
    assert metrics["data"]["hub"]["streaming"] is True


def test_a_dataset_folder_in_memory_goes_through_fit():
    import seqsuite

    data = datasets.load_from_disk(str(sentiment_dataset(Path("sst"))))
    run = seqsuite.fit(
        "sentiment",
        data,
        train={"epochs": 1},
        task={"text_column": "sentence", "embedding_dim": 8, "min_freq": 1},
        backbone={"hidden_size": 8},
    )
    written = pd.read_json(run.path / "data" / "texts.jsonl", lines=True)
    assert set(written["label"]) == {"neg", "pos"} and set(written["split"]) == {
        "train",
        "val",
        "test",
    }


def test_dataset_references_parse_and_fail_offline_in_seconds(cli):
    assert hub.parse_ref("owner/name:cfg@v1.0") == ("owner/name", "cfg", "v1.0")
    assert hub.parse_ref("owner/name") == ("owner/name", None, None)
    with pytest.raises(UserError, match="owner/name"):
        hub.parse_ref("a/b/c")
    started = time.perf_counter()
    result = cli("run", "sentiment", "--dataset", "owner/name:cfg@main", "--out", "x")
    assert result.code == 2 and "offline" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert time.perf_counter() - started < 10
    assert not Path("x").exists()


def test_a_missing_local_folder_is_not_found_not_the_hub_offline(cli):
    result = cli("run", "sentiment", "--dataset", "./no_such_folder")
    assert result.code == 2 and "./no_such_folder: not found" in result.err
