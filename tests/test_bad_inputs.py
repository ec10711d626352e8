"""The bad-input corpus: every malformed file or setting ends with exit code 2, one clear
line on stderr that names the file or field and what was expected, no traceback, and no
run directory that looks finished. `tests/bad_inputs/make_corpus.py` wrote the files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqsuite.errors import UserError

BAD = Path(__file__).parent / "bad_inputs"
PIANO = ["--set", "task.representation='pianoroll'"]

CASES = [
    # (task, data path or None, extra arguments, expected words in the message)
    ("forecast", "forecast/empty.csv", [], "file is empty"),
    ("forecast", "forecast/binary.csv", [], "looks like a binary file, expected CSV text"),
    ("forecast", "forecast/latin1.csv", [], "not valid UTF-8"),
    ("forecast", "forecast/header_only.csv", [], "a header line and no rows"),
    ("forecast", "forecast/non_numeric.csv", [], "'three' is not a number"),
    ("forecast", "forecast/infinite.csv", [], "infinite value"),
    ("forecast", "forecast/all_nan.csv", [], "no numeric values"),
    ("forecast", "forecast/too_short.csv", [], "too short for lookback"),
    # two numeric columns are a wide panel of two series (forecast's task.columns)
    ("forecast", "forecast/two_numeric_columns.csv", [], "no series long enough"),
    ("forecast", "forecast/duplicate_times.csv", [], "duplicate time"),
    ("forecast", "forecast/broken.json", [], "cannot read as JSON"),
    ("forecast", "forecast/corrupt.parquet", [], "cannot read as PARQUET"),
    ("forecast", "forecast/spreadsheet.xlsx", [], "unsupported file type"),
    ("forecast", "forecast/missing.csv", [], "file not found"),
    (
        "forecast",
        "forecast/two_numeric_columns.csv",
        ["--set", "task.column=c"],
        "no value column 'c'",
    ),
    ("textgen", "textgen/empty.txt", [], "file is empty"),
    ("textgen", "textgen/whitespace.txt", [], "file is empty"),
    ("textgen", "textgen/binary.txt", [], "binary file"),
    ("textgen", "textgen/latin1.txt", [], "not valid UTF-8"),
    ("textgen", "textgen/one_character.txt", [], "distinct characters"),
    ("textgen", "textgen/empty_folder", [], "holds no .txt files"),
    ("textgen", "textgen/no_txt_folder", [], "holds no .txt files"),
    ("sentiment", "sentiment/missing_label.csv", [], "no label column 'label'"),
    ("sentiment", "sentiment/misspelled_text.csv", [], "did you mean 'txet'"),
    ("sentiment", "sentiment/one_class.csv", [], "single class"),
    ("sentiment", "sentiment/empty_texts.csv", [], "holds no text"),
    ("sentiment", "sentiment/missing_labels.csv", [], "missing label"),
    ("sentiment", "sentiment/broken.jsonl", [], "cannot read as JSONL"),
    ("sentiment", "sentiment/latin1.csv", [], "not valid UTF-8"),
    ("sentiment", "sentiment/bad_split.csv", [], "'holdout'; expected train, val or test"),
    ("sentiment", "sentiment/empty.csv", [], "file is empty"),
    ("speech", "speech/all_bad", [], "no usable audio (4 files skipped"),
    ("speech", "speech/empty_folder", [], "no label folders"),
    ("speech", "speech/bad_list", [], "testing_list.txt, line 1"),
    ("speech", "speech/one_label", [], "only one label"),
    ("speech", "speech/bad_manifest.csv", [], "split 'training'"),
    ("speech", "speech/manifest_missing_column.csv", [], "no path column 'path'"),
    (
        "speech",
        "speech/escaping_manifest.csv",
        ["--set", "data.confine=true"],
        "data row 2: '../../../../etc/passwd' leads outside",
    ),
    ("speech", "speech/hostile_headers", [], "declares a sample rate of 10000000 Hz, outside"),
    (
        "speech",
        "speech/one_second",
        ["--set", "data.max_audio_seconds=0.5"],
        "declares 1 s of audio, more than data.max_audio_seconds=0.5",
    ),
    ("speech", "speech/one_label", ["--set", "data.max_files=1"], "more than data.max_files=1"),
    ("music", "music/empty_folder", [], "no MIDI, MusicXML or ABC files"),
    ("music", "music/no_notes", [], "no usable scores"),
    ("music", "music/corrupt_midi", [], "no usable scores"),
    ("music", "music/corrupt.mat", PIANO, "not a readable MATLAB file"),
    ("music", "music/corrupt.pickle", PIANO, "not a readable benchmark pickle"),
    ("music", "music/missing_keys.pickle", PIANO, "expected a dict with train, valid and test"),
    ("music", "music/wrong_shape.mat", PIANO, "has shape (5, 12)"),
    ("music", "music/corrupt.mat", [], "needs --set task.representation='pianoroll'"),
    (
        "music",
        "music/shared_references.pickle",
        PIANO,
        "repeated references (data.max_pickle_nodes)",
    ),
    ("music", "music/nan_note.pickle", PIANO, "train[0][0]: nan is not a MIDI note number"),
    ("music", "music/string_note.pickle", PIANO, "train[0][0]: 'C4' is not a MIDI note number"),
    ("music", "music/empty_test.pickle", PIANO, "the test split holds no pieces"),
    ("music", "music/declares_88_billion.mat", PIANO, "88,000,000,000 numbers"),
    ("music", "music/huge_delta", PIANO, "frames of 88 keys, over data.max_elements"),
    ("music", "music/tempo_zero", [], "tempo 0 at tick 0"),
    (
        "music",
        "music/sixty_notes",
        ["--set", "data.max_notes=50"],
        "more than 50 notes (data.max_notes)",
    ),
    (
        "forecast",
        None,
        ["--config", str(BAD / "configs/unknown_key.toml")],
        "did you mean 'train.epochs'",
    ),
    (
        "forecast",
        None,
        ["--config", str(BAD / "configs/unknown_section.toml")],
        "did you mean 'train'",
    ),
    (
        "forecast",
        None,
        ["--config", str(BAD / "configs/wrong_type.toml")],
        "backbone.hidden_size: got 'big', expected an integer",
    ),
    (
        "forecast",
        None,
        ["--config", str(BAD / "configs/negative_epochs.toml")],
        "train.epochs: got -2, expected a value >= 1",
    ),
    (
        "forecast",
        None,
        ["--config", str(BAD / "configs/zero_hidden.toml")],
        "expected a value >= 1",
    ),
    ("forecast", None, ["--config", str(BAD / "configs/not_toml.toml")], "invalid TOML"),
    ("forecast", None, ["--config", str(BAD / "configs/binary.toml")], "cannot read config file"),
    ("forecast", None, ["--config", str(BAD / "configs/missing.toml")], "config file not found"),
    ("forecast", None, ["--set", "train.epochs"], "expected KEY=VALUE"),
    ("forecast", None, ["--set", "train.lr=-1"], "train.lr: got -1.0"),
    ("forecast", None, ["--set", "backbone.cell=transformer"], "expected one of 'lstm', 'gru'"),
    ("forecast", None, ["--dataset", "co3"], "did you mean 'co2'"),
    ("forecast", None, ["--device", "gpu"], "expected one of 'auto', 'cpu', 'cuda'"),
]


def case_id(case) -> str:
    task, data, extra, _ = case
    return f"{task}:{data or ' '.join(a.replace(str(BAD) + '/', '') for a in extra)}"


@pytest.mark.parametrize("task, data, extra, expected", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_exits_2_with_one_clear_line(cli, task, data, extra, expected):
    args = ["run", task, "--out", "r", *extra]
    if "--config" not in extra:
        args += ["--epochs", "1"]  # a flag would override the config file's value
    if data:
        args += ["--data", str(BAD / data)]
    result = cli(*args)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert expected in lines[0]
    assert "Traceback" not in result.err + result.out
    assert not (Path("r") / "metrics.json").exists()


def test_symlink_loop_does_not_hang(cli, tmp_path):
    loop = tmp_path / "texts"
    (loop / "a").mkdir(parents=True)
    os.symlink("..", loop / "a" / "back")
    result = cli("run", "textgen", "--data", str(loop), "--out", "r")
    assert result.code == 2 and "holds no .txt files" in result.err


def test_links_that_loop_and_system_files_are_one_line(cli, tmp_path):
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    result = cli("run", "forecast", "--data", str(tmp_path / "loop1"), "--out", "r")
    assert result.code == 2 and "cannot follow its links" in result.err, result.err
    pseudo = Path("/proc/self/pagemap")  # its size says 0; read on, it would never end
    if pseudo.exists():
        (tmp_path / "pagemap.txt").symlink_to(pseudo)
        result = cli("run", "textgen", "--data", str(tmp_path / "pagemap.txt"), "--out", "r")
        assert result.code == 2 and "a system file" in result.err, result.err


def test_a_table_of_too_many_columns_is_refused_before_it_is_parsed(tmp_path):
    from seqsuite.table_files import MAX_COLUMNS, read_table

    wide = tmp_path / "wide.csv"
    count = 2 * MAX_COLUMNS + 10
    wide.write_text(",".join(f"c{k}" for k in range(count)) + "\n" + ",".join(["1"] * count))
    with pytest.raises(UserError, match="columns or more; at most"):
        read_table(wide)
    fine = tmp_path / "fine.csv"  # numbers in every column: read, not checked one by one
    fine.write_text(",".join(f"c{k}" for k in range(500)) + "\n" + ",".join(["1.5"] * 500))
    assert read_table(fine).shape == (1, 500)


def test_odd_audio_is_read_not_refused():
    from seqsuite_tasks.speech.audio import read_audio

    assert len(read_audio(BAD / "speech/odd/11025hz.wav", 16000)) == 16000
    assert read_audio(BAD / "speech/odd/six_channels.wav", 16000).ndim == 1


def test_audio_far_past_full_scale_is_refused_and_16_bit_units_are_read(tmp_path):
    import numpy as np
    import soundfile

    from seqsuite_tasks.speech.audio import BadAudio, read_audio

    wave = np.sin(np.linspace(0, 200, 8000)).astype("float32")
    soundfile.write(tmp_path / "huge.wav", wave * 3e38, 8000, subtype="FLOAT")
    with pytest.raises(BadAudio, match="samples reach 3e\\+38"):
        read_audio(tmp_path / "huge.wav", 8000)
    soundfile.write(tmp_path / "units.wav", wave * 32767, 8000, subtype="FLOAT")
    assert len(read_audio(tmp_path / "units.wav", 8000)) == 8000
