"""The music task: both representations, compact rolls and batches, readers within limits,
generation that keeps its notes, bad input."""

from __future__ import annotations

import json
import os
import pickle
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from seqsuite.adapters import FeatureInput, TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.config import DataSettings
from seqsuite.errors import UserError
from seqsuite.heads import StepHead
from seqsuite.model import SequenceModel
from seqsuite.token_lm import generate
from seqsuite_tasks.music import rolls
from seqsuite_tasks.music.benchmark import load_benchmark
from seqsuite_tasks.music.events import encode, transpose
from seqsuite_tasks.music.midi import MidiError, midi_bytes, parse, read_midi, write_midi
from seqsuite_tasks.music.pianoroll import FrameNotes, RollPieces
from seqsuite_tasks.music.pieces import PieceSplit, chunked, cut
from seqsuite_tasks.music.recorder import Recorder
from seqsuite_tasks.music.scores import RES, ScoreError, folder, parse_file, skyline

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
PIANO = ["--set", "task.representation='pianoroll'"]
TUNE = "X:1\nT:{title}\nM:4/4\nL:1/8\nK:C\n{notes}|\n"
LIMITS = DataSettings()


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


def midi_folder(root: Path, n: int = 10) -> Path:
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        pitches = rng.integers(55, 80, 24)
        notes = [(int(p), k * 0.5, 0.5) for k, p in enumerate(pitches)]
        notes += [(int(p) - 12, k * 2.0, 2.0) for k, p in enumerate(pitches[::4])]
        write_midi(root / f"song{i}.mid", notes, bpm=100)
    return root


# -- scores, MIDI -------------------------------------------------------------------------


def test_score_to_events_to_midi_and_back(tmp_path):
    path = abc_folder(tmp_path / "abc") / "tune3.abc"
    piece = parse_file(path, LIMITS)
    events = encode(piece.melody, 0.25, 8.0)
    assert events[:4] == ["67:1", "64:1", "60:2", "r:1"]  # G2 E2 C4 z2 with L:1/8
    notes, now = [], 0.0
    for token in events:
        pitch, length = token.split(":")
        if pitch != "r":
            notes.append((int(pitch), now, float(length)))
        now += float(length)
    write_midi(tmp_path / "out.mid", notes, bpm=100)
    back = read_midi(tmp_path / "out.mid", 1000)
    assert round(back.bpm) == 100
    assert [(p, round(o, 3), round(d, 3)) for p, o, d in back.quarters()] == notes


def test_midi_written_here_reads_the_same_in_mido(tmp_path):
    mido = pytest.importorskip("mido")
    notes = [(60, 0.0, 1.0), (64, 0.0, 0.5), (67, 0.5, 1.5), (60, 3.0, 1.0)]
    write_midi(tmp_path / "a.mid", notes, bpm=120)
    song = mido.MidiFile(tmp_path / "a.mid")
    ons = [m.note for m in mido.merge_tracks(song.tracks) if m.type == "note_on" and m.velocity]
    assert ons == [60, 64, 67, 60] and round(mido.tempo2bpm(song.tracks[0][0].tempo)) == 120
    assert read_midi(tmp_path / "a.mid", 100).quarters() == sorted(
        notes, key=lambda n: (n[1], n[0])
    )


def midi_file(track: bytes, division: int = 480) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01" + division.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + track


def test_midi_reader_running_status_drums_and_unreleased_notes():
    track = (
        b"\x00\x90\x3c\x40"  # C4 on
        b"\x00\x40\x40"  # E4 on, running status
        b"\x83\x60\x3c\x00"  # 480 ticks later: C4 off (velocity 0)
        b"\x00\x99\x24\x40"  # a drum on channel 10: no pitch, left out
        b"\x00\xff\x2f\x00"
    )
    midi = parse(midi_file(track), 100)
    assert midi.quarters() == [(60, 0.0, 1.0), (64, 0.0, 1.0)]  # E4 held to the track's end


def test_a_huge_delta_time_is_a_number_not_an_allocation():
    track = b"\x00\x90\x3c\x40\xff\xff\xff\x7f\x80\x3c\x00\x00\xff\x2f\x00"  # held 2**28 - 1 ticks
    midi = parse(midi_file(track, division=1), 10)
    assert midi.quarters() == [(60, 0.0, float(2**28 - 1))]
    assert len(midi_file(track)) < 50


def test_midi_reader_refuses_what_it_cannot_read():
    with pytest.raises(MidiError, match="more than 2 notes"):
        parse(midi_bytes([(60, float(i), 1.0) for i in range(3)]), 2)
    with pytest.raises(MidiError, match="tempo 0"):
        parse(midi_file(b"\x00\xff\x51\x03\x00\x00\x00\x00\x90\x3c\x40"), 10)
    with pytest.raises(MidiError, match="SMPTE"):
        parse(midi_file(b"", division=0xE728), 10)
    with pytest.raises(MidiError, match="no MThd"):
        parse(b"RIFF" + bytes(20), 10)
    with pytest.raises(MidiError, match="four bytes"):
        parse(midi_file(b"\xff\xff\xff\xff\x7f\x90\x3c\x40"), 10)
    declares_too_much = bytearray(midi_bytes([(60, 0.0, 1.0)]))
    declares_too_much[4:8] = (0xFFFFFFF0).to_bytes(4, "big")
    with pytest.raises(MidiError, match="header declares 4,294,967,280 bytes, more than"):
        parse(bytes(declares_too_much), 10)


def test_melody_is_the_highest_note_at_each_onset_with_rests_between():
    pitch = np.array([60, 64, 62, 70])
    onset = np.array([0, 0, 48, 192]) * 1
    end = np.array([48, 24, 96, 240])
    assert skyline(pitch, onset, end).tolist() == [[64, 24], [-1, 24], [62, 48], [-1, 96], [70, 48]]


def test_midi_scores_read_without_music21(tmp_path):
    root = midi_folder(tmp_path / "songs", 1)
    piece = parse_file(root / "song0.mid", LIMITS)
    assert len(piece.notes) == 30 and piece.melody[:, 1].sum() == 24 * RES // 2
    with pytest.raises(ScoreError, match="data.max_notes"):
        parse_file(root / "song0.mid", DataSettings(max_notes=10))


def test_folder_in_worker_processes_equals_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "cache"))
    root = midi_folder(tmp_path / "songs", 8)
    (root / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0")
    seen = []
    pieces, skipped = folder(root, LIMITS, 2, lambda *a: seen.append(a))
    assert len(pieces) == 8 and [Path(p).name for p, _ in skipped] == ["broken.mid"]
    assert seen[-1] == (9, 9, 1)
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "other"))
    again, _ = folder(root, LIMITS, 1, lambda *a: None)
    assert all((a.notes == b.notes).all() for a, b in zip(pieces, again, strict=True))


# -- compact rolls and batches -------------------------------------------------------------


def test_score_to_pianoroll_and_back():
    notes = [(60, 0.0, 2.0), (64, 0.0, 1.0), (67, 1.0, 1.0), (20, 0.0, 1.0)]  # 20: below the piano
    runs, frames = rolls.runs_from_notes(np.array(notes), step=1.0)
    roll = rolls.NoteRolls.from_runs([(runs, frames)]).piece(0)
    assert roll.shape == (2, 88) and roll.sum() == 4
    assert rolls.notes_from_roll(roll) == [(60, 0, 2), (64, 0, 1), (67, 1, 1)]


def test_overlapping_notes_of_one_key_are_one_run():
    runs = np.array([[39, 0, 4], [39, 2, 6], [39, 6, 7], [40, 0, 1]])
    store = rolls.NoteRolls.from_runs([(runs, 8)])
    assert store.keys.tolist() == [39, 40] and store.stops.tolist() == [7, 1]
    assert store.key_frames()[39] == 7


def test_windows_of_note_runs_equal_slices_of_dense_rolls():
    rng = np.random.default_rng(0)
    dense = [(rng.random((rng.integers(1, 40), 88)) < 0.1).astype(np.uint8) for _ in range(12)]
    store = rolls.NoteRolls.from_dense(dense)
    assert all((store.piece(i) == d).all() for i, d in enumerate(dense))
    window = store.window([3, 5], [2, -1], [10, 4], [0, 3]).numpy()
    assert (window[0, :8] == dense[3][2:10]).all() and (window[0, 8:] == 0).all()
    assert (window[1, 0] == 0).all() and (window[1, 1:5, 3:] == dense[5][:4, :-3]).all()


def test_transpositions_stay_on_the_keyboard():
    store = rolls.NoteRolls.from_runs(
        [(np.array([[2, 0, 1], [39, 1, 2]]), 2), (np.zeros((0, 3)), 3)]
    )
    low, high = store.shift_bounds()
    assert (low.tolist(), high.tolist()) == ([-2, 0], [5, 0])
    up = store.window([0], [0], [2], [5]).numpy()[0]
    assert rolls.notes_from_roll(up) == [(28, 0, 1), (65, 1, 1)]


def test_transposition_keeps_rests_and_durations():
    assert [transpose(t, 3) for t in ["60:1", "r:0.5", "67:2", "<s>"]] == [
        "63:1",
        "r:0.5",
        "70:2",
        "<s>",
    ]


def test_windows_cover_every_step_once_wherever_the_cut():
    lengths = np.array([5, 300, 17, 64, 65])
    for offsets in (np.zeros(5, dtype=np.int64), np.array([3, 63, 10, 1, 40])):
        piece, starts, stops = cut(lengths, 64, offsets)
        assert ((stops - starts) <= 64).all() and ((stops - starts) > 0).all()
        covered = np.zeros(lengths.sum(), dtype=int)
        base = np.r_[0, np.cumsum(lengths)[:-1]]
        for p, a, b in zip(piece, starts, stops, strict=True):
            covered[base[p] + a : base[p] + b] += 1
        assert (covered == 1).all()


def test_piece_batches_are_bucketed_bounded_and_transposed_within_range():
    rng = np.random.default_rng(0)
    dense = [(rng.random((int(n), 88)) < 0.05).astype(np.uint8) for n in rng.integers(5, 400, 40)]
    for roll in dense:
        roll[:, :10] = 0  # room to move down
    split = PieceSplit(RollPieces(rolls.NoteRolls.from_dense(dense)), window=64, augment=True)
    generator = torch.Generator().manual_seed(0)
    batches = list(split.batches(8, shuffle=True, generator=generator))
    assert len(batches) <= split.num_batches(8)
    assert sum(int(b["steps"].sum()) for b in batches) == sum(len(r) for r in dense)
    assert all(b["x"].shape[1] == int(b["steps"].max()) <= 64 for b in batches)
    frames = sum(float(b["y"].sum()) for b in batches)
    assert frames == sum(float(r.sum()) for r in dense)  # transposed, never pushed off the keys
    plain = list(split.batches(8, shuffle=False))
    assert sum(float(b["y"].sum()) for b in plain) == frames


def tiny_roll_model(seed=0):
    torch.manual_seed(seed)
    backbone = Backbone(88, BackboneConfig(hidden_size=8, num_layers=2))
    return SequenceModel(FeatureInput(88), backbone, StepHead(8, 88)).eval()


def test_chunked_evaluation_equals_reading_each_piece_whole():
    rng = np.random.default_rng(1)
    dense = [(rng.random((int(n), 88)) < 0.1).astype(np.uint8) for n in (50, 7, 33, 12, 1)]
    store = RollPieces(rolls.NoteRolls.from_dense(dense))
    model = tiny_roll_model()
    sums = np.zeros(len(dense))
    for live, batch, output in chunked(model, store, "cpu", pieces=3, chunk=8):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            output, batch["y"], reduction="none"
        )
        mask = torch.arange(output.shape[1])[None, :] < batch["steps"][:, None]
        sums[live] += (loss.sum(-1) * mask).sum(1).numpy()
    for i, roll in enumerate(dense):
        y = torch.from_numpy(roll).float()[None]
        x = torch.cat([torch.zeros(1, 1, 88), y[:, :-1]], 1)
        with torch.no_grad():
            output, _ = model({"x": x})
        whole = torch.nn.functional.binary_cross_entropy_with_logits(output, y, reduction="sum")
        assert sums[i] == pytest.approx(float(whole), rel=1e-4)


def test_frames_become_notes_when_their_keys_stop():
    maker = FrameNotes(step=0.5)
    frames = np.zeros((4, 88))
    frames[0:2, 39] = 1
    frames[1:4, 43] = 1
    notes = [n for f in frames for n in maker.add(f)] + maker.finish()
    assert notes == [(60, 0.0, 1.0), (64, 0.5, 1.5)]


# -- generation ------------------------------------------------------------------------------


def test_generate_stops_at_the_stop_id_but_not_before_the_minimum():
    torch.manual_seed(0)
    model = SequenceModel(
        TokenInput(6, 4), Backbone(4, BackboneConfig(hidden_size=4)), StepHead(4, 6)
    ).eval()
    with torch.no_grad():
        model.head.linear.bias[:] = torch.tensor([0, 0, 0, 0, 0, 20.0])  # id 5 almost surely
    assert generate(model, [2], 10, seed=0, stop_id=5) == []
    made = generate(model, [2], 10, seed=0, stop_id=5, min_length=3)
    assert len(made) == 3 and 5 not in made


def test_a_signal_stops_generation_and_keeps_the_notes(tmp_path):
    path = tmp_path / "song.mid"
    with Recorder(path, 90.0) as recorder:
        for i in range(1000):
            recorder.add([(60 + i % 12, float(i), 1.0)])
            if i == 9:
                os.kill(os.getpid(), signal.SIGTERM)
            if recorder.stopped:
                break
    assert recorder.stopped and i == 9
    assert len(read_midi(path, 100).quarters()) == 10
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(
        signal.getsignal(signal.SIGTERM)
    )


def test_the_file_is_written_while_generation_goes_on(tmp_path):
    path = tmp_path / "song.mid"
    with Recorder(path, 90.0, every=0.0) as recorder:
        recorder.add([(60, 0.0, 1.0)])
        assert len(read_midi(path, 10).quarters()) == 1
        time.sleep(max(0.01, 20 * recorder.write_seconds))  # writing takes at most a tenth
        recorder.add([(62, 1.0, 1.0)])
        assert len(read_midi(path, 10).quarters()) == 2


# -- benchmark files -----------------------------------------------------------------------


def fake_benchmark(tmp_path: Path, kind: str, compress: bool = True) -> Path:
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
        scipy.io.savemat(path, cells, do_compression=compress)
    else:
        path = tmp_path / "jsb.pickle"
        as_notes = {
            s: [[[int(k) + 21 for k in np.flatnonzero(f)] for f in roll] for roll in rs]
            for s, rs in splits.items()
        }
        path.write_bytes(pickle.dumps(as_notes))
    return path, splits


@pytest.mark.parametrize("kind, compress", [("mat", True), ("mat", False), ("pickle", True)])
def test_benchmark_files_load_with_their_own_splits(tmp_path, kind, compress):
    path, splits = fake_benchmark(tmp_path, kind, compress)
    data = load_benchmark(path, LIMITS)
    assert [len(data[s]) for s in ("train", "val", "test")] == [8, 3, 3]
    assert all((data["train"].piece(i) == r).all() for i, r in enumerate(splits["train"]))
    assert all((data["test"].piece(i) == r).all() for i, r in enumerate(splits["test"]))


@pytest.mark.parametrize("compress", [True, False])
def test_a_truncated_mat_file_is_one_line_not_a_hang(tmp_path, compress):
    """A download cut short: the reader stops where the file does, whatever its elements
    declare (a compressed one used to wait for bytes that never came, forever)."""
    path, _ = fake_benchmark(tmp_path, "mat", compress)
    whole = path.read_bytes()
    previous = signal.signal(signal.SIGALRM, _still_reading)
    try:
        for share in (0.2, 0.5, 0.9, 0.99):
            path.write_bytes(whole[: int(len(whole) * share)])
            signal.alarm(10)
            with pytest.raises(UserError, match="truncated"):
                load_benchmark(path, LIMITS)
            signal.alarm(0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _still_reading(signum, frame):
    raise TimeoutError("still reading a truncated file after 10 s")


def test_mat_shapes_are_checked_before_their_data_is_read(tmp_path):
    path, _ = fake_benchmark(tmp_path, "mat", compress=False)
    with pytest.raises(UserError, match="data.max_elements"):
        load_benchmark(path, DataSettings(max_elements=20 * 88))
    # a matrix that declares a billion frames, with 8 bytes of data: refused from its shape
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.zeros((3, 88), dtype=np.uint8)
    scipy.io.savemat(
        tmp_path / "x.mat",
        {"traindata": cell, "validdata": cell, "testdata": cell},
        do_compression=False,
    )
    raw = bytearray((tmp_path / "x.mat").read_bytes())
    at = raw.find((3).to_bytes(4, "little") + (88).to_bytes(4, "little"))
    raw[at : at + 4] = (10**9).to_bytes(4, "little")
    (tmp_path / "x.mat").write_bytes(bytes(raw))
    with pytest.raises(UserError, match=r"88,000,000,000 numbers.*data.max_elements"):
        load_benchmark(tmp_path / "x.mat", LIMITS)


def test_malformed_mat_elements_and_v73_files_are_one_line(tmp_path):
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.zeros((3, 88), dtype=np.uint8)
    names = {"traindata": cell, "validdata": cell, "testdata": cell}
    scipy.io.savemat(tmp_path / "x.mat", names, do_compression=False)
    raw = bytearray((tmp_path / "x.mat").read_bytes())
    dims = (5).to_bytes(4, "little") + (8).to_bytes(4, "little") + (3).to_bytes(4, "little")
    at = raw.find(dims)  # the dims element, rewritten as a "small" one declaring 8 bytes
    raw[at : at + 4] = ((8 << 16) | 5).to_bytes(4, "little")
    (tmp_path / "x.mat").write_bytes(bytes(raw))
    with pytest.raises(UserError, match="small data element declares 8 bytes"):
        load_benchmark(tmp_path / "x.mat", LIMITS)
    header = b"MATLAB 7.3 MAT-file".ljust(124) + (0x0200).to_bytes(2, "little") + b"IM"
    (tmp_path / "h5.mat").write_bytes(header + bytes(512))
    with pytest.raises(UserError, match=r"v7.3 \(HDF5\) file"):
        load_benchmark(tmp_path / "h5.mat", LIMITS)


def test_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (Path("pwned").write_text, ("x",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"train": Evil()}))
    with pytest.raises(UserError, match="refusing to load"):
        load_benchmark(path, LIMITS)
    assert not Path("pwned").exists()


def test_shared_references_are_counted_every_time(tmp_path):
    frame = [60, 64, 67]
    piece = [frame] * 1000
    bomb = {"train": [piece] * 100_000, "valid": [piece], "test": [piece]}
    path = tmp_path / "bomb.pickle"
    path.write_bytes(pickle.dumps(bomb))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserError, match="repeated references.*data.max_pickle_nodes"):
        load_benchmark(path, LIMITS)


def test_pickle_operations_are_counted_before_unpickling(tmp_path):
    path = tmp_path / "big.pickle"
    path.write_bytes(pickle.dumps({"train": [[[60]] * 50], "valid": [], "test": []}))
    with pytest.raises(UserError, match="pickle operations.*data.max_pickle_nodes"):
        load_benchmark(path, DataSettings(max_pickle_nodes=20))


@pytest.mark.parametrize(
    "content, message",
    [
        (
            {"train": [[[60, float("nan")]]], "valid": [[[60]]], "test": [[[60]]]},
            "nan is not a MIDI note",
        ),
        ({"train": [[[60, "C4"]]], "valid": [[[60]]], "test": [[[60]]]}, "'C4' is not a MIDI note"),
        ({"train": [[[60], [-5]]], "valid": [[[60]]], "test": [[[60]]]}, "[1]: -5.0 is not a MIDI"),
        ({"train": [[[60]]], "valid": [[[200]]], "test": [[[60]]]}, "200.0 is not a MIDI note"),
        ({"train": [[[60]]], "valid": [[[60]]], "test": []}, "test split holds no pieces"),
        ({"train": [[[60]]], "valid": "x", "test": [[[60]]]}, "valid is a str"),
        ({"train": [[[60]]], "valid": [[60]], "test": [[[60]]]}, "valid[0][0] is a int"),
    ],
)
def test_well_formed_pickles_with_wrong_content_are_one_line(tmp_path, content, message):
    path = tmp_path / "x.pickle"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_benchmark(path, LIMITS)


def test_fifo_is_refused_not_waited_for(cli, tmp_path):
    fifo = tmp_path / "data.mat"
    os.mkfifo(fifo)
    result = cli("run", "music", "--data", str(fifo), *PIANO, *SMALL)
    assert result.code == 2 and "not a regular file" in result.err


# -- end to end -----------------------------------------------------------------------------


def test_pianoroll_run_on_a_benchmark_file_then_generate(cli, tmp_path):
    path, _ = fake_benchmark(tmp_path, "mat")
    result = cli("run", "music", "--data", str(path), "--out", "r", *PIANO, *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"nll"} and "key_frequencies" in metrics["baselines"]
    assert Path("r/test_pieces.csv").read_text().startswith("piece,steps,nll")
    args = ["generate", "r", "--length", "16", "--out", "song.mid", "--temperature", "3.0"]
    gen = cli(*args, "--seed", "1")
    assert gen.code == 0, gen.err
    assert read_midi("song.mid", 10_000).quarters() and Path("song.png").exists()


def test_events_generation_same_seed_same_notes_other_seed_other_notes(cli, tmp_path):
    folder_ = abc_folder(tmp_path / "tunes")
    result = cli("run", "music", "--data", str(folder_), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"nll", "accuracy"}
    assert set(metrics["baselines"]) == {"unigram", "bigram"}
    for name, seed in (("a.mid", "4"), ("b.mid", "4"), ("c.mid", "5")):
        gen = cli(
            "generate", "r", "--length", "20", "--seed", seed, "--temperature", "2", "--out", name
        )
        assert gen.code == 0, gen.err
    a, b, c = (read_midi(n, 1000).quarters() for n in ("a.mid", "b.mid", "c.mid"))
    assert a == b and a != c
    assert 1 <= len(a) <= 20 and round(read_midi("a.mid", 1000).bpm) == 90
    assert all(d > 0 and d % 0.25 == 0 for _, _, d in a)
    primed = cli(
        "generate", "r", "--length", "8", "--prompt", str(folder_ / "tune0.abc"), "--out", "p.mid"
    )
    assert primed.code == 0, primed.err


def test_prompts_that_cannot_be_read_are_one_line(cli, tmp_path):
    path, _ = fake_benchmark(tmp_path, "mat")
    assert cli("run", "music", "--data", str(path), "--out", "r", *PIANO, *SMALL).code == 0
    (tmp_path / "junk.mid").write_bytes(b"MThd\x00\x00\x00\x06" + bytes(range(40)))
    (tmp_path / "tempo0.mid").write_bytes(
        midi_file(b"\x00\xff\x51\x03\x00\x00\x00\x00\x90\x3c\x40")
    )
    os.mkfifo(tmp_path / "pipe.mid")
    for name, words in (
        ("junk.mid", "--prompt"),
        ("tempo0.mid", "tempo 0"),
        ("pipe.mid", "not a regular file"),
        ("/dev/zero", "not a regular file"),
    ):
        result = cli("generate", "r", "--prompt", str(tmp_path / name), "--out", "x.mid")
        assert result.code == 2 and words in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1


def test_task_refuses_a_negative_temperature_like_the_cli(tmp_path):
    from seqsuite_tasks.music.task import _sampling

    with pytest.raises(UserError, match="--temperature"):
        _sampling({"temperature": -0.5})
    with pytest.raises(UserError, match="--temperature"):
        _sampling({"temperature": float("nan")})


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
    result = cli("run", "music", "--data", str(corrupt), *PIANO, *SMALL)
    assert result.code == 2 and "not a readable MATLAB file" in result.err


def test_a_hundred_thousand_note_midi_is_read_in_seconds(tmp_path):
    notes = [(40 + i % 48, i * 0.25, 0.25) for i in range(100_000)]
    write_midi(tmp_path / "long.mid", notes)
    started = time.perf_counter()
    piece = parse_file(tmp_path / "long.mid", LIMITS)
    assert len(piece.notes) == 100_000 and time.perf_counter() - started < 20


def test_sigterm_during_a_long_generation_keeps_the_notes_made(cli, tmp_path):
    import subprocess
    import sys

    path, _ = fake_benchmark(tmp_path, "mat")
    assert cli("run", "music", "--data", str(path), "--out", "r", *PIANO, *SMALL).code == 0
    command = [sys.executable, "-m", "seqsuite", "generate", "r", "--length", "1000000"]
    child = subprocess.Popen(
        [*command, "--temperature", "3", "--out", "long.mid"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not Path("long.mid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the file appears after the first few seconds of generation
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert b"stopped after" in out and b"Traceback" not in err
    assert len(read_midi("long.mid", 1_000_000).quarters()) > 0


def test_a_missing_data_folder_is_not_found(cli, tmp_path):
    result = cli("run", "music", "--data", str(tmp_path / "my_midi_folder"))
    assert result.code == 2 and result.err.strip().endswith("my_midi_folder: not found")


def test_in_memory_pieces_given_as_paths_must_be_regular_files(tmp_path):
    import os

    from seqsuite.errors import UserError
    from seqsuite_tasks.music.task import write_piece

    fifo = tmp_path / "tune.mid"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="FIFO"):
        write_piece(str(fifo), tmp_path / "out", 0)
    midi = tmp_path / "real.mid"
    midi.write_bytes(b"MThd" + bytes(10))
    (tmp_path / "out").mkdir()
    write_piece(str(midi), tmp_path / "out", 1)
    assert (tmp_path / "out" / "000001.mid").read_bytes() == midi.read_bytes()


def test_a_silent_end_of_run_sample_does_not_throw_the_trained_run_away(monkeypatch):
    from types import SimpleNamespace

    from rich.console import Console

    from seqsuite_tasks.music.task import MusicTask, SilentSample

    def only_rests(self, ctx, model, options):
        raise SilentSample("the model generated only rests/silence")

    monkeypatch.setattr(MusicTask, "generate", only_rests)
    console = Console(record=True, width=200)
    ctx = SimpleNamespace(console=console, seed=0)
    MusicTask().report(ctx, None, None, SimpleNamespace(test=SimpleNamespace(outputs=None)))
    assert "no sample: the model generated only rests" in console.export_text()
