"""Tiny trained runs of every built-in task, for the serving tests (a few seconds each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import seqsuite

SMALL = ["backbone.hidden_size=8", "backbone.num_layers=1", "train.patience=0"]


FORECAST_SETS = [*SMALL, "task.horizon=6", "task.season=12", "task.baselines=['naive']"]


def forecast(root: Path) -> Path:
    t = np.arange(90)
    values = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    csv = root / "series.csv"
    csv.write_text("value\n" + "\n".join(f"{v:.3f}" for v in values) + "\n")
    return _run("forecast", root, csv, FORECAST_SETS, epochs=2)


def sentiment(root: Path) -> Path:
    good = ["a fine film", "great acting and a moving story", "loved it", "wonderful"]
    bad = ["dull and long", "a waste of time", "terrible plot", "boring"]
    rows = [(t, "pos") for t in good] * 8 + [(t, "neg") for t in bad] * 8
    csv = root / "reviews.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    sets = [*SMALL, "backbone.bidirectional=false", "task.embedding_dim=8", "task.min_freq=1"]
    return _run("sentiment", root, csv, sets, epochs=1)


def textgen(root: Path) -> Path:
    text = root / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 120)
    sets = [
        *SMALL,
        "task.bptt=20",
        "train.max_steps=3",
        "train.time_budget=0",
        "train.eval_every=0",
        "task.sample_length=5",
        "task.sample_temperatures=[1.0]",
        "task.ngram_order=2",
        "train.precision='fp32'",
    ]
    return _run("textgen", root, text, sets, epochs=1)


def music(root: Path) -> Path:
    from seqsuite_tasks.music.midi import write_midi

    folder = root / "midi"
    folder.mkdir()
    for k in range(10):
        notes = [(60 + (k + i) % 7, float(i), 1.0) for i in range(12)]
        write_midi(folder / f"piece{k}.mid", notes)
    sets = [*SMALL, "task.transpose=false", "task.embedding_dim=8"]
    return _run("music", root, folder, sets, epochs=1)


def speech(root: Path) -> Path:
    import soundfile

    folder = root / "words"
    for label, pitch in (("low", 300.0), ("high", 900.0)):
        (folder / label).mkdir(parents=True)
        for k in range(10):
            t = np.arange(8000) / 16000
            wave = 0.3 * np.sin(2 * np.pi * (pitch + 10 * k) * t)
            soundfile.write(folder / label / f"{k}.wav", wave.astype(np.float32), 16000)
    sets = [*SMALL, "backbone.bidirectional=false"]
    return _run("speech", root, folder, sets, epochs=1)


def wav_bytes(pitch: float = 300.0) -> bytes:
    import io

    import soundfile

    t = np.arange(8000) / 16000
    buffer = io.BytesIO()
    soundfile.write(
        buffer, (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000, format="WAV"
    )
    return buffer.getvalue()


def _run(task: str, root: Path, data: Path, sets: list[str], epochs: int) -> Path:
    result = seqsuite.run(
        task, data=str(data), sets=sets, epochs=epochs, quiet=True, out=root / f"{task}-run"
    )
    return Path(result.run_dir)


ALL = {
    "forecast": forecast,
    "sentiment": sentiment,
    "textgen": textgen,
    "music": music,
    "speech": speech,
}
