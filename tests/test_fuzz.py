"""Fuzzing the readers through the command line: hypothesis writes a file of each task's
format, damages it (truncates it, flips bytes, writes absurd sizes into its header) and runs
``seqsuite run`` on it in a subprocess with a time limit and a memory cap. Whatever the file
holds, the command ends with exit 0 or 2, prints no traceback, stays under 2 GB of resident
memory, and touches nothing outside its run directory and cache.

``make test`` runs a few examples per format; ``make test-all`` (the ``slow`` mark) runs many
(``SEQSUITE_FUZZ_EXAMPLES`` sets how many).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

MEMORY_CAP = 12 * 2**30  # address space: a safety net for the machine (torch maps a lot)
PEAK_RSS_LIMIT_MB = 2048  # what the issue allows for any input under 10 MB
TIMEOUT = 120  # seconds: generous for a loaded 2-core machine; a hang takes forever


# -- valid seeds, one per format -----------------------------------------------------------


def forecast_csv() -> bytes:
    rows = "\n".join(f"2000-{1 + i % 12:02d}-01,{100 + i + 5 * np.sin(i)}" for i in range(80))
    return ("date,value\n" + rows).encode()


def text_file() -> bytes:
    return ("the quick brown fox jumps over the lazy dog. " * 120).encode()


def sentiment_csv() -> bytes:
    rows = [("a great film", "pos"), ("dull and long", "neg"), ("fine work", "pos")] * 20
    return ("text,label\n" + "\n".join(f"{t},{label}" for t, label in rows)).encode()


def wav_file() -> bytes:
    import soundfile

    buffer = io.BytesIO()
    tone = (0.3 * np.sin(np.arange(4000) / 3)).astype(np.float32)
    soundfile.write(buffer, tone, 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def midi_file() -> bytes:
    track = b""
    for pitch in (60, 62, 64, 65, 67, 65, 64, 62) * 4:
        track += b"\x00" + bytes([0x90, pitch, 64]) + b"\x60" + bytes([0x80, pitch, 0])
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def rolls_pickle() -> bytes:
    rng = np.random.default_rng(0)
    piece = [[int(k) for k in rng.choice(range(40, 80), 3)] for _ in range(16)]
    return pickle.dumps({"train": [piece] * 6, "valid": [piece] * 2, "test": [piece] * 2})


#: format -> (task, file name, seed bytes, extra arguments, header positions worth enlarging)
FORMATS = {
    "forecast-csv": ("forecast", "s.csv", forecast_csv, ["--set", "task.horizon=6"], []),
    "textgen-txt": ("textgen", "t.txt", text_file, ["--set", "task.bptt=10"], []),
    "sentiment-csv": ("sentiment", "r.csv", sentiment_csv, [], []),
    "speech-wav": (
        "speech",
        "yes/a.wav",
        wav_file,
        [],
        [4, 24, 28, 40],
    ),  # RIFF size, rate, data size
    "music-midi": (
        "music",
        "song.mid",
        midi_file,
        [],
        [4, 10, 12, 18],
    ),  # header, division, track size
    "music-pickle": (
        "music",
        "rolls.pickle",
        rolls_pickle,
        ["--set", "task.representation='pianoroll'"],
        [],
    ),
}
SMALL = [
    "--epochs",
    "1",
    "--quiet",
    "--set",
    "backbone.hidden_size=4",
    "--set",
    "backbone.num_layers=1",
    "--set",
    "train.time_budget=0",
]


# -- damage --------------------------------------------------------------------------------


@st.composite
def damaged(draw, seed: bytes, header: list[int]) -> bytes:
    data = bytearray(seed)
    kind = draw(st.sampled_from(["truncate", "flip", "huge", "repeat"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 16))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "huge" and header:
        at = draw(st.sampled_from(header))
        value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF]))
        data[at : at + 4] = struct.pack("<I" if seed[:4] == b"RIFF" else ">I", value)
        return bytes(data)
    # repeat a slice many times: a long row, a long track, a long text
    start = draw(st.integers(0, len(data) - 1))
    piece = bytes(data[start : start + draw(st.integers(1, 64))])
    return bytes(data[:start]) + piece * draw(st.integers(1, 20_000)) + bytes(data[start:])


# -- running -------------------------------------------------------------------------------


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the hash of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def run_cli(task: str, data: Path, extra: list[str], work: Path) -> tuple[int, str, float]:
    """Exit code, stderr and peak resident memory (MB) of ``seqsuite run`` on ``data``."""
    env = {
        **os.environ,
        "HOME": str(work / "home"),
        "SEQSUITE_CACHE": str(work / "cache"),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    args = [sys.executable, "-m", "seqsuite", "run", task, "--data", str(data)]
    args += ["--out", str(work / "run"), *SMALL, *extra]
    log = work / "stderr.log"
    with log.open("wb") as stderr:
        child = subprocess.Popen(
            args,
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_cap_memory,
        )
        code, usage = _wait(child, TIMEOUT)
    if code is None:
        pytest.fail(f"{task} on {data.name}: no answer after {TIMEOUT} s")
    err = log.read_text(errors="replace")
    log.unlink()
    return code, err, usage.ru_maxrss / 1024  # this child's own peak (KiB on Linux)


def _wait(child: subprocess.Popen, timeout: float) -> tuple[int | None, resource.struct_rusage]:
    """Wait for ``child`` with ``os.wait4``, which gives this one child's resource usage."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode, usage
        time.sleep(0.1)
    child.kill()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return None, usage


def check_one(fmt: str, content: bytes, tmp: Path) -> None:
    task, name, _, extra, _ = FORMATS[fmt]
    work = tmp / f"case-{hashlib.sha256(content).hexdigest()[:12]}"
    (work / "home").mkdir(parents=True, exist_ok=True)
    data_root = work / "data"
    path = data_root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if task == "speech":  # a label folder needs a second label and a few files
        other = data_root / "no" / "b.wav"
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes(wav_file())
    before = snapshot(data_root)
    code, err, peak_mb = run_cli(task, data_root if task == "speech" else path, extra, work)
    assert code in (0, 2), f"{fmt}: exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err, f"{fmt}: traceback\n{err[-2000:]}"
    if code == 2:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert peak_mb < PEAK_RSS_LIMIT_MB, f"{fmt}: peak memory {peak_mb:.0f} MB"
    assert snapshot(data_root) == before, f"{fmt}: the input was changed"
    outside = {p.name for p in work.iterdir()} - {"home", "cache", "data", "run", "stderr.log"}
    assert not outside, f"{fmt}: wrote outside the run directory: {outside}"


def examples(default: int) -> int:
    return int(os.environ.get("SEQSUITE_FUZZ_EXAMPLES", default))


def fuzz(fmt: str, count: int, tmp_path_factory) -> None:
    _, _, seed, _, header = FORMATS[fmt]

    @settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],  # each example is a process: no shrinking
    )
    @given(damaged(seed(), header))
    def case(content: bytes) -> None:
        check_one(fmt, content, tmp_path_factory.mktemp(fmt))

    case()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fuzz_few(fmt, tmp_path_factory):
    fuzz(fmt, examples(1), tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fuzz_many(fmt, tmp_path_factory):
    fuzz(fmt, examples(25), tmp_path_factory)
