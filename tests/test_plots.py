"""Every plot of every task's quick run is drawn and is not blank.

Each task runs its ``--quick`` preset on its embedded data, shrunk further where that takes
long (fewer epochs or steps, a smaller model), so that every figure the task draws is made.
Each PNG must be a real picture: large enough to read, with ink on it (not one colour), and
with its legend and labels inside the image (nothing cut off at the border).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SMALLER = {
    "forecast": ["--epochs", "3"],
    "textgen": [
        "--set",
        "train.max_steps=6",
        "--set",
        "train.eval_every=3",
        "--set",
        "backbone.hidden_size=32",
    ],
    "sentiment": ["--epochs", "1", "--set", "backbone.hidden_size=8"],
    "speech": ["--epochs", "1", "--set", "backbone.hidden_size=8", "--set", "task.speakers=12"],
    "music": [
        "--epochs",
        "1",
        "--set",
        "backbone.hidden_size=16",
        "--set",
        "backbone.num_layers=1",
    ],
}


def midi_folder(folder: Path) -> Path:
    """Twelve short melodies as MIDI files: the music task's plots without parsing the
    chorale corpus (which takes minutes on a fresh machine)."""
    import mido

    rng = np.random.default_rng(0)
    folder.mkdir()
    for k in range(12):
        song = mido.MidiFile(ticks_per_beat=96)
        track = mido.MidiTrack()
        song.tracks.append(track)
        for pitch in rng.integers(60, 72, 24):
            track.append(mido.Message("note_on", note=int(pitch), velocity=64, time=0))
            track.append(mido.Message("note_off", note=int(pitch), velocity=0, time=96))
        song.save(folder / f"tune{k}.mid")
    return folder


def ink(picture: np.ndarray) -> float:
    """Share of pixels that differ from the most common colour (the background)."""
    rgb = (picture[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    return float((rgb != background).any(axis=1).mean())


def check_picture(path: Path) -> None:
    import matplotlib.image

    picture = matplotlib.image.imread(path)
    height, width = picture.shape[:2]
    assert width >= 400 and height >= 250, f"{path.name}: {width}x{height} is too small to read"
    assert ink(picture) > 0.02, f"{path.name}: nearly blank"
    border = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
    assert ink(border[None, ...]) < 0.5, f"{path.name}: drawing cut off at the border"


@pytest.mark.parametrize("task", sorted(SMALLER))
def test_every_plot_of_a_quick_run_is_drawn(cli, task, tmp_path):
    data = ["--data", str(midi_folder(tmp_path / "tunes"))] if task == "music" else []
    result = cli("run", task, "--quick", "--out", "r", "--quiet", *SMALLER[task], *data)
    assert result.code == 0, result.err
    pictures = sorted(Path("r").rglob("*.png"))
    assert Path("r/plots/loss.png") in pictures, pictures
    for path in pictures:
        check_picture(path)


def test_a_confusion_plot_of_many_classes_stays_a_readable_size(tmp_path):
    """120 classes drew a 110-inch figure with 14,400 cell labels (4 GB, a minute)."""
    from PIL import Image

    from seqsuite.plots import MAX_SIDE_INCHES, confusion_plot

    classes = [f"c{k}" for k in range(120)]
    matrix = np.eye(120, dtype=int) * 3
    confusion_plot(matrix, classes, tmp_path / "many.png", "many")
    confusion_plot(matrix[:3, :3], classes[:3], tmp_path / "few.png", "few")
    with Image.open(tmp_path / "many.png") as many, Image.open(tmp_path / "few.png") as few:
        assert max(many.size) <= 150 * (MAX_SIDE_INCHES + 1.2)
        assert max(few.size) < max(many.size)
    assert (tmp_path / "many.png").stat().st_size < 500_000
