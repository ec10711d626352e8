"""Writes the bad-input corpus (run once; the files are committed). python make_corpus.py"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def write(relative: str, data: bytes | str) -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def declaring(samples: np.ndarray, rate: int = 8000, channels: int = 1) -> bytes:
    """A 16-bit WAV of ``samples`` whose header then claims another rate or channel count."""
    import struct

    data = bytearray(wav_bytes(samples, 8000))
    data[22:24] = struct.pack("<H", channels)
    data[24:28] = struct.pack("<I", rate)
    return bytes(data)


JUNK = bytes(range(256)) * 4
series = "\n".join(f"2000-{1 + i % 12:02d}-01,{100 + i}" for i in range(12))

# -- forecast ---------------------------------------------------------------------------
write("forecast/empty.csv", "")
write("forecast/binary.csv", JUNK)
write(
    "forecast/latin1.csv",
    "month,caf\xe9\n" + "\n".join(f"{i},{i}" for i in range(50)),
)
(HERE / "forecast/latin1.csv").write_bytes(
    ("month,café\n" + "\n".join(f"{i},{i}" for i in range(50))).encode("latin-1")
)
write("forecast/header_only.csv", "month,value\n")
write("forecast/non_numeric.csv", "value\n1\n2\nthree\n" + "\n".join(str(i) for i in range(60)))
write("forecast/infinite.csv", "value\n1\ninf\n" + "\n".join(str(i) for i in range(60)))
write("forecast/all_nan.csv", "value\n" + "\n".join("nan" for _ in range(60)))
write("forecast/too_short.csv", "value\n" + "\n".join(str(i) for i in range(30)))
write("forecast/two_numeric_columns.csv", "a,b\n" + "\n".join(f"{i},{2 * i}" for i in range(80)))
write(
    "forecast/duplicate_times.csv", "date,value\n" + "\n".join(f"2000-01-01,{i}" for i in range(80))
)
write("forecast/broken.json", '[{"value": 1}, {"value": 2')
write("forecast/corrupt.parquet", b"PAR1" + JUNK + b"PAR1")
write("forecast/spreadsheet.xlsx", JUNK)

# -- textgen ----------------------------------------------------------------------------
write("textgen/empty.txt", "")
write("textgen/binary.txt", JUNK)
(HERE / "textgen/latin1.txt").write_bytes(
    ("Ceci est un texte fran\xe7ais. " * 200).encode("latin-1")
)
write("textgen/one_character.txt", "a" * 20000)
(HERE / "textgen/empty_folder").mkdir(parents=True, exist_ok=True)
write("textgen/empty_folder/.keep", "")
write("textgen/no_txt_folder/notes.md", "# not a .txt file\n" * 100)
write("textgen/whitespace.txt", " \n\t\n " * 1000)

# -- sentiment --------------------------------------------------------------------------
rows = [("a great film", "pos"), ("dull and long", "neg")] * 20
write(
    "sentiment/missing_label.csv", "text,stars\n" + "\n".join(f"{t},{label}" for t, label in rows)
)
write(
    "sentiment/misspelled_text.csv", "txet,label\n" + "\n".join(f"{t},{label}" for t, label in rows)
)
write("sentiment/one_class.csv", "text,label\n" + "\n".join(f"{t},pos" for t, _ in rows))
write("sentiment/empty_texts.csv", "text,label\n" + "\n".join(f",{label}" for _, label in rows))
write("sentiment/missing_labels.csv", "text,label\n" + "\n".join(f"{t}," for t, _ in rows))
write("sentiment/broken.jsonl", '{"text": "good", "label": "pos"}\n{"text": "bad", "lab')
(HERE / "sentiment/latin1.csv").write_bytes(
    ("text,label\n" + "\n".join(f"tr\xe8s bien {i},pos\nmal {i},neg" for i in range(20))).encode(
        "latin-1"
    )
)
write(
    "sentiment/bad_split.csv",
    "text,label,split\n" + "\n".join(f"{t},{label},holdout" for t, label in rows),
)
write("sentiment/empty.csv", "")

# -- speech -----------------------------------------------------------------------------
tone = (0.3 * np.sin(np.arange(8000) / 3)).astype(np.float32)
write("speech/all_bad/yes/truncated.wav", wav_bytes(tone, 8000)[:60])
write("speech/all_bad/yes/zero_length.wav", b"")
write("speech/all_bad/no/junk.wav", b"RIFF" + JUNK)
write("speech/all_bad/no/silent.wav", wav_bytes(np.zeros(8000, np.float32), 8000))
(HERE / "speech/empty_folder").mkdir(parents=True, exist_ok=True)
write("speech/empty_folder/.keep", "")
write("speech/bad_list/yes/a.wav", wav_bytes(tone, 8000))
write("speech/bad_list/no/b.wav", wav_bytes(-tone, 8000))
write("speech/bad_list/testing_list.txt", "maybe/c.wav\n")
write("speech/one_label/yes/a.wav", wav_bytes(tone, 8000))
write("speech/one_label/yes/b.wav", wav_bytes(tone * 0.5, 8000))
write("speech/bad_manifest.csv", "path,label,split\nyes.wav,yes,training\n")
write("speech/manifest_missing_column.csv", "file,label\na.wav,yes\n")
write(
    "speech/escaping_manifest.csv", "path,label\nall_bad/yes/a.wav,yes\n../../../../etc/passwd,no\n"
)
# hostile headers: a 200 KB WAV declaring 1 Hz (resampling it to 16 kHz would need 6 GB),
# one declaring 10 MHz, one declaring 1000 channels (8 frames: too short)
write("speech/hostile_headers/yes/one_hertz.wav", declaring(np.tile(tone, 13), rate=1))
write("speech/hostile_headers/no/ten_megahertz.wav", declaring(tone, rate=10_000_000))
write("speech/hostile_headers/no/thousand_channels.wav", declaring(tone, channels=1000))
write("speech/one_second/yes/a.wav", wav_bytes(tone, 8000))
write("speech/one_second/no/b.wav", wav_bytes(-tone, 8000))
# odd but valid: tolerated, not errors (see test_odd_audio_is_read)
write(
    "speech/odd/11025hz.wav",
    wav_bytes((0.3 * np.sin(np.arange(11025) / 3)).astype(np.float32), 11025),
)
write("speech/odd/six_channels.wav", wav_bytes(np.tile(tone[:, None], (1, 6)), 8000))

# -- music ------------------------------------------------------------------------------
write("music/empty_folder/.keep", "")
write("music/no_notes/empty.abc", "X:1\nT:nothing\nK:C\n|\n")
write("music/corrupt_midi/song.mid", b"MThd\x00\x00\x00\x06" + JUNK)
write("music/corrupt.mat", JUNK)
write("music/corrupt.pickle", b"\x80\x04" + JUNK)
write("music/missing_keys.pickle", pickle.dumps({"train": [[[60]]]}))
write("music/wrong_shape.mat", b"")  # replaced below with a real .mat of the wrong shape
try:
    import scipy.io

    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.zeros((5, 12), dtype=np.uint8)
    scipy.io.savemat(
        HERE / "music/wrong_shape.mat", {"traindata": cell, "validdata": cell, "testdata": cell}
    )
except ImportError:  # pragma: no cover
    pass

# the hostile ones (issue 15): small files that declare far more than they hold
frame = [60, 64, 67]
piece = [frame] * 5000  # one list, referenced 5000 times: pickled as 5000 references
write(
    "music/shared_references.pickle",
    pickle.dumps({"train": [piece] * 2000, "valid": [piece], "test": [piece]}),
)
write(
    "music/nan_note.pickle",
    pickle.dumps({"train": [[[60, float("nan")]]], "valid": [[[60]]], "test": [[[60]]]}),
)
write(
    "music/string_note.pickle",
    pickle.dumps({"train": [[["C4"]]], "valid": [[[60]]], "test": [[[60]]]}),
)
write("music/empty_test.pickle", pickle.dumps({"train": [[[60]]], "valid": [[[60]]], "test": []}))


def mat_tag(kind: int, data: bytes) -> bytes:
    return struct.pack("<II", kind, len(data)) + data + bytes(-len(data) % 8)


def mat_declaring(rows: int, cols: int) -> bytes:
    """A compressed MATLAB 5 file whose cell holds one double matrix of rows x cols that
    it declares but does not contain: a reader must refuse it from the shape alone."""
    matrix = (
        mat_tag(6, struct.pack("<II", 6, 0))  # array flags: class double
        + mat_tag(5, struct.pack("<ii", rows, cols))
        + mat_tag(1, b"")
        + struct.pack("<II", 9, 8)  # miDOUBLE, and only 8 bytes follow
        + bytes(8)
    )
    cell = mat_tag(6, struct.pack("<II", 1, 0)) + mat_tag(5, struct.pack("<ii", 1, 1))
    cell += mat_tag(1, b"traindata") + struct.pack("<II", 14, len(matrix)) + matrix
    packed = zlib.compress(struct.pack("<II", 14, len(cell)) + cell)
    header = b"MATLAB 5.0 MAT-file, crafted for seqsuite's tests".ljust(116) + bytes(8)
    return header + struct.pack("<H", 0x0100) + b"IM" + struct.pack("<II", 15, len(packed)) + packed


write("music/declares_88_billion.mat", mat_declaring(10**9, 88))


def midi_track(events: bytes, division: int = 480) -> bytes:
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
    return header + b"MTrk" + struct.pack(">I", len(events)) + events


# one note, then a note-off 2**28 - 1 ticks (at one tick a beat: quarter notes) later
write("music/huge_delta/song.mid", midi_track(b"\x00\x90\x3c\x40\xff\xff\xff\x7f\x80\x3c\x00", 1))
write("music/tempo_zero/song.mid", midi_track(b"\x00\xff\x51\x03\x00\x00\x00\x00\x90\x3c\x40"))
notes = b"".join(
    b"\x00\x90" + bytes([40 + i % 40]) + b"\x40\x10\x80" + bytes([40 + i % 40]) + b"\x00"
    for i in range(60)
)
write("music/sixty_notes/song.mid", midi_track(notes))

# -- configs ----------------------------------------------------------------------------
write("configs/unknown_key.toml", "[train]\nepocs = 3\n")
write("configs/unknown_section.toml", "[training]\nepochs = 3\n")
write("configs/wrong_type.toml", "[backbone]\nhidden_size = 'big'\n")
write("configs/negative_epochs.toml", "[train]\nepochs = -2\n")
write("configs/zero_hidden.toml", "[backbone]\nhidden_size = 0\n")
write("configs/not_toml.toml", "[train\nepochs: 3\n")
write("configs/binary.toml", JUNK)

# a symlink loop, made by the test (git keeps links, but not on every file system)
print(
    "wrote", sum(1 for p in HERE.rglob("*") if p.is_file() and p.name != "make_corpus.py"), "files"
)
