"""Speech at scale: wall time and peak memory of ``seqsuite run speech`` at 1x, 10x and 100x.

    python bench/speech_scale.py [--scales 1,10,100] [--base 100] [--write]

The data: ``--base`` recordings per unit of scale (16 kHz WAV, 0.5-1.5 s, four "words"
made of two gliding tones each over noise, so lengths vary as speech does), in the
folder-per-label layout. Each scale gets a cold run (empty cache: every file read and
analysed into the frame store) and a warm run (the store mapped from the cache), each one
``seqsuite run speech`` in its own process with a 16-unit model for one epoch, so that
what grows with the data is reading, analysing, storing, batching and evaluating it. Peak
resident memory is the process's own (``os.wait4``). ``speech_data`` has the signature
of ``bench/scale.py``'s data makers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

RATE = 16_000
WORDS = {"up": (300, 600), "down": (600, 300), "left": (400, 900), "right": (900, 400)}
SMALL = ["--set", "backbone.hidden_size=16", "--set", "backbone.num_layers=1", "--epochs", "1"]


def recording(word: str, rng: np.random.Generator) -> np.ndarray:
    """A "word": two tones gliding between the word's frequencies, over noise."""
    seconds = rng.uniform(0.5, 1.5)
    t = np.arange(int(seconds * RATE)) / RATE
    start, end = WORDS[word]
    pitch = start + (end - start) * t / seconds
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    envelope = np.sin(np.pi * t / seconds) ** 2
    voice = envelope * (0.3 * np.sin(phase) + 0.1 * np.sin(2.7 * phase))
    return (voice + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def speech_data(scale: int, folder: Path, base: int = 100) -> tuple[Path, list[str], str]:
    """``base`` recordings per unit of scale, folder per label."""
    import soundfile

    rng = np.random.default_rng(scale)
    names = list(WORDS)
    root = folder / "words"
    for k in range(scale * base):
        word = names[k % len(names)]
        path = root / word / f"{k:07d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, recording(word, rng), RATE, subtype="PCM_16")
    return root, [], f"{scale * base:,} files"


def run_once(data: Path, cache: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one ``seqsuite run speech``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQSUITE_CACHE": str(cache)}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [sys.executable, "-m", "seqsuite", "run", "speech", "--data", str(data)]
    command += ["--quiet", "--out", str(out), *SMALL]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"speech failed: {child.stderr.read().decode()[-800:]}")
    return seconds, usage.ru_maxrss / 1024


def measure(scale: int, base: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data, _, size = speech_data(scale, tmp, base)
        audio_bytes = sum(p.stat().st_size for p in data.rglob("*.wav"))
        cold = run_once(data, tmp / "cache", tmp / "cold")
        warm = run_once(data, tmp / "cache", tmp / "warm")
        store = sum(p.stat().st_size for p in (tmp / "cache").rglob("frames.f32"))
    row = {
        "scale": scale,
        "size": size,
        "audio_mb": audio_bytes / 1e6,
        "store_mb": store / 1e6,
        "cold_s": cold[0],
        "cold_mb": cold[1],
        "warm_s": warm[0],
        "warm_mb": warm[1],
    }
    print(row, flush=True)
    return row


def table(rows: list[dict]) -> list[str]:
    first = rows[0]
    lines = [
        "| scale | data | WAV MB | frame store MB | cold run s | peak MB | warm run s | peak MB "
        "| cold time / 1x | peak / 1x |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scale']}x | {r['size']} | {r['audio_mb']:.0f} | {r['store_mb']:.0f} | "
            f"{r['cold_s']:.1f} | {r['cold_mb']:.0f} | {r['warm_s']:.1f} | {r['warm_mb']:.0f} | "
            f"{r['cold_s'] / first['cold_s']:.1f} | {r['cold_mb'] / first['cold_mb']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--base", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [measure(int(s), args.base) for s in args.scales.split(",")]
    body = "\n".join(
        [
            f"Command: `python bench/speech_scale.py --scales {args.scales} --base {args.base} "
            "--write`",
            "",
            f"Measured {date.today()} on 2 CPU cores, one thread (load average {load:.1f} "
            f"before). {args.base} synthetic recordings (0.5-1.5 s, 16 kHz) per unit of scale; "
            "a 16-unit model for one epoch; a cold run (empty cache) then a warm one (frames "
            "mapped from the store); peak resident memory of the process.",
            "",
            *table(rows),
        ]
    )
    print(body)
    if args.write:
        replace_section("speech-scale", body)


if __name__ == "__main__":
    main()
