"""Music on hostile files: each small file that once took gigabytes or hung, run as
``seqsuite run music`` in a fresh process: exit code, wall time and peak memory.

    python bench/music_hostile.py [--write]

The files are made here (each under 10 MB): a pickle of shared references, a compressed
``.mat`` whose zeros inflate to 1.76 GB, a 33-byte MIDI file with a delta time of 2**28
ticks, a folder of 100,000-note MIDI files, and the bad pickles of the test corpus. The
target (issue 15): peak memory under 2 GB, or exit 2 within 30 s.
"""

from __future__ import annotations

import argparse
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "bad_inputs" / "music"
PIANO = ["--set", "task.representation='pianoroll'"]
TINY = ["--epochs", "1", "--set", "backbone.hidden_size=8", "--set", "backbone.num_layers=1"]


def shared_pickle(path: Path) -> None:
    """About 4 MB: 2,000,000 references to one piece of 10,000 references to one frame."""
    piece = [[60, 64, 67]] * 10_000
    path.write_bytes(
        pickle.dumps({"train": [piece] * 2_000_000, "valid": [piece], "test": [piece]})
    )


def tag(kind: int, data: bytes) -> bytes:
    return struct.pack("<II", kind, len(data)) + data + bytes(-len(data) % 8)


def inflating_mat(path: Path, rows: int = 2_500_000) -> None:
    """A compressed MATLAB 5 file: one cell, one (rows x 88) double matrix of zeros that
    zlib packs about a thousand to one (1.76 GB in 1.7 MB)."""
    size = rows * 88 * 8
    head = tag(6, struct.pack("<II", 6, 0)) + tag(5, struct.pack("<ii", rows, 88)) + tag(1, b"")
    matrix_body_size = len(head) + 8 + size
    cell = (
        tag(6, struct.pack("<II", 1, 0)) + tag(5, struct.pack("<ii", 1, 1)) + tag(1, b"traindata")
    )
    inner = cell + struct.pack("<II", 14, matrix_body_size) + head + struct.pack("<II", 9, size)
    packer = zlib.compressobj(9)
    parts = [packer.compress(struct.pack("<II", 14, len(inner) + size) + inner)]
    block = bytes(1 << 24)
    for start in range(0, size, len(block)):
        parts.append(packer.compress(block[: min(len(block), size - start)]))
    parts.append(packer.flush())
    packed = b"".join(parts)
    header = b"MATLAB 5.0 MAT-file, made by bench/music_hostile.py".ljust(116) + bytes(8)
    header += struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + struct.pack("<II", 15, len(packed)) + packed)


def long_midis(folder: Path, copies: int = 10, notes: int = 100_000) -> None:
    sys.path.insert(0, str(ROOT))
    from seqsuite_tasks.music.midi import write_midi

    folder.mkdir()
    for i in range(copies):
        write_midi(
            folder / f"long{i}.mid", [(40 + (k + i) % 48, k * 0.25, 0.25) for k in range(notes)]
        )


def run(args: list[str], cwd: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["SEQSUITE_CACHE"] = str(cwd / "cache")
    command = [sys.executable, "-m", "seqsuite", "run", "music", *args, "--quiet", "--out", "r"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    error = child.stderr.read().decode().strip().splitlines()
    return {
        "code": os.waitstatus_to_exitcode(status),
        "seconds": time.perf_counter() - started,
        "peak_mb": usage.ru_maxrss / 1024,
        "message": error[-1][:150] if error else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shared_pickle(work / "shared.pickle")
        inflating_mat(work / "inflating.mat")
        long_midis(work / "long_midis")
        cases = [
            ("shared-reference pickle", work / "shared.pickle", PIANO),
            ("compressed .mat inflating to 1.76 GB", work / "inflating.mat", PIANO),
            ("33-byte MIDI, delta 2**28 ticks", CORPUS / "huge_delta", PIANO),
            ("33-byte MIDI, delta 2**28 ticks (events)", CORPUS / "huge_delta", []),
            ("ten 100,000-note MIDI files (events, 1 epoch)", work / "long_midis", TINY),
            ("pickle with a NaN note", CORPUS / "nan_note.pickle", PIANO),
            ("pickle with a string note", CORPUS / "string_note.pickle", PIANO),
            ("pickle with an empty test split", CORPUS / "empty_test.pickle", PIANO),
            ("MIDI with tempo 0", CORPUS / "tempo_zero", []),
        ]
        for name, path, extra in cases:
            size = sum(
                p.stat().st_size
                for p in ([path] if path.is_file() else path.rglob("*"))
                if p.is_file()
            )
            result = run(["--data", str(path), *extra], work)
            rows.append((name, size, result))
            print(name, size, result, flush=True)
    lines = [
        "Command: `python bench/music_hostile.py --write`",
        "",
        "| file | size | exit | wall | peak memory | message |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {size / 1e6:.3f} MB | {r['code']} | {r['seconds']:.1f} s | {r['peak_mb']:,.0f} MB | "
            f"{r['message'].replace('|', '/') if r['code'] else ''} |"
            for name, size, r in rows
        ],
    ]
    if args.write:
        replace_section("music-hostile", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
