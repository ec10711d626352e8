"""The music task: both representations, benchmark loaders, MIDI out, bad input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from seqsuite_tasks.music import rolls
from seqsuite_tasks.music.midi import read_midi, write_midi
from seqsuite_tasks.music.task import MusicConfig, MusicTask, transpose

SMALL = [
    "--epochs",
    "2",
    "--set",
    "backbone.hidden_size=16",
    "--set",
    "backbone.num_layers=1",
    "--set",
    "train.batch_size=4",
]
TUNE = "X:1\nT:{title}\nM:4/4\nL:1/8\nK:C\n{notes}|\n"


def abc_folder(root: Path, n: int = 12) -> Path:
    root.mkdir()
    phrases = [
        "C D E F G A B c",
        "c B A G F E D C",
        "E E F G G F E D",
        "G2 E2 C4 z2 D2",
        "C E G c G E C2",
    ]
    for i in range(n):
        notes = " ".join(phrases[(i + k) % len(phrases)] for k in range(3))
        (root / f"tune{i}.abc").write_text(TUNE.format(title=f"t{i}", notes=notes))
    return root


def test_score_to_events_to_midi_and_back(tmp_path):
    from seqsuite_tasks.music.scores import parse_file

    path = abc_folder(tmp_path / "abc") / "tune3.abc"
    piece = parse_file(path)
    events = MusicTask.encode(piece["melody"], MusicConfig())
    assert events[:4] == ["67:1", "64:1", "60:2", "r:1"]  # G2 E2 C4 z2 with L:1/8
    notes, now = [], 0.0
    for token in events:
        pitch, length = token.split(":")
        if pitch != "r":
            notes.append((int(pitch), now, float(length)))
        now += float(length)
    write_midi(tmp_path / "out.mid", notes, bpm=100)
    back, bpm = read_midi(tmp_path / "out.mid")
    assert round(bpm) == 100
    assert [(p, round(o, 3), round(d, 3)) for p, o, d in back] == [(p, o, d) for p, o, d in notes]


def test_score_to_pianoroll_and_back():
    notes = [
        (60, 0.0, 2.0),
        (64, 0.0, 1.0),
        (67, 1.0, 1.0),
        (20, 0.0, 1.0),
    ]  # 20 lies below the piano
    roll = rolls.roll_from_notes(notes, step=1.0)
    assert roll.shape == (2, 88) and roll.sum() == 4
    assert rolls.notes_from_roll(roll) == [(60, 0, 2), (64, 0, 1), (67, 1, 1)]


def test_pianoroll_transpositions_stay_on_the_keyboard():
    roll = rolls.roll_from_notes([(23, 0.0, 1.0), (60, 1.0, 1.0)], step=1.0)  # key 2 and key 39
    assert rolls.shifts(roll) == [-2, -1, 0, 1, 2, 3, 4, 5]
    up = rolls.shift(roll, 5)
    assert rolls.notes_from_roll(up) == [(28, 0, 1), (65, 1, 1)]
    assert rolls.shifts(np.zeros((3, 88), dtype=np.uint8)) == [0]


def test_transposition_keeps_rests_and_durations():
    assert transpose(["60:1", "r:0.5", "67:2"], 3) == ["63:1", "r:0.5", "70:2"]


def fake_benchmark(tmp_path: Path, kind: str) -> Path:
    rng = np.random.default_rng(0)
    splits = {
        s: [(rng.random((rng.integers(10, 20), 88)) < 0.05).astype(np.uint8) for _ in range(n)]
        for s, n in (("train", 8), ("valid", 3), ("test", 3))
    }
    if kind == "mat":
        path = tmp_path / "jsb.mat"
        cells = {}
        for split, name in (("train", "traindata"), ("valid", "validdata"), ("test", "testdata")):
            cell = np.empty((1, len(splits[split])), dtype=object)
            for i, roll in enumerate(splits[split]):
                cell[0, i] = roll
            cells[name] = cell
        scipy.io.savemat(path, cells)
    else:
        path = tmp_path / "jsb.pickle"
        as_notes = {
            s: [[[int(k) + 21 for k in np.flatnonzero(f)] for f in roll] for roll in rs]
            for s, rs in splits.items()
        }
        path.write_bytes(pickle.dumps(as_notes))
    return path


@pytest.mark.parametrize("kind", ["mat", "pickle"])
def test_benchmark_files_load_with_their_own_splits(tmp_path, kind):
    data = rolls.load_benchmark(fake_benchmark(tmp_path, kind))
    assert [len(data[s]) for s in ("train", "val", "test")] == [8, 3, 3]
    assert all(r.shape[1] == 88 and r.dtype == np.uint8 for r in data["train"])


def test_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (Path("pwned").write_text, ("x",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"train": Evil()}))
    with pytest.raises(Exception, match="refusing to load"):
        rolls.load_benchmark(path)
    assert not Path("pwned").exists()


def test_pianoroll_run_on_a_benchmark_file_then_generate(cli, tmp_path):
    path = fake_benchmark(tmp_path, "mat")
    result = cli(
        "run",
        "music",
        "--data",
        str(path),
        "--out",
        "r",
        "--set",
        "task.representation='pianoroll'",
        *SMALL,
    )
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"nll"} and "key_frequencies" in metrics["baselines"]
    gen = cli(
        "generate",
        "r",
        "--length",
        "16",
        "--seed",
        "1",
        "--out",
        "song.mid",
        "--temperature",
        "3.0",
    )
    assert gen.code == 0, gen.err
    notes, _ = read_midi("song.mid")
    assert notes and Path("song.png").exists()


def test_events_run_generate_reproducibly(cli, tmp_path):
    folder = abc_folder(tmp_path / "tunes")
    result = cli("run", "music", "--data", str(folder), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"nll", "accuracy"} and set(metrics["baselines"]) == {
        "unigram",
        "bigram",
    }
    for name in ("a.mid", "b.mid"):
        assert cli("generate", "r", "--length", "20", "--seed", "4", "--out", name).code == 0
    assert Path("a.mid").read_bytes() == Path("b.mid").read_bytes()
    assert cli("generate", "r", "--length", "20", "--seed", "5", "--out", "c.mid").code == 0
    notes, bpm = read_midi("a.mid")
    assert 1 <= len(notes) <= 20 and round(bpm) == 90
    assert all(d > 0 and d % 0.25 == 0 for _, _, d in notes)
    primed = cli(
        "generate", "r", "--length", "8", "--prompt", str(folder / "tune0.abc"), "--out", "p.mid"
    )
    assert primed.code == 0, primed.err


def test_bad_input(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no MIDI, MusicXML or ABC files" in cli("run", "music", "--data", str(empty), *SMALL).err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.mid").write_bytes(b"MThd garbage")
    (broken / "b.abc").write_text("X:1\nK:C\n|\n")  # no notes
    result = cli("run", "music", "--data", str(broken), *SMALL)
    assert result.code == 2 and "no usable scores (2 skipped" in result.err
    corrupt = tmp_path / "bad.mat"
    corrupt.write_bytes(b"not matlab")
    result = cli(
        "run", "music", "--data", str(corrupt), "--set", "task.representation='pianoroll'", *SMALL
    )
    assert result.code == 2 and "not a readable MATLAB file" in result.err
