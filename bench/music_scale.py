"""Music at scale: wall time and peak memory of `seqsuite run music` on piano rolls at
1x, 10x and 100x a base data size.

    python bench/music_scale.py [--scales 1 10 100] [--base 60] [--write]

The data are synthetic rolls of a realistic shape, written as a benchmark ``.mat`` file
(the format of JSB and Nottingham): piece lengths drawn like Nottingham's (median about
200 frames, a few near 1,800), a melody of one note per frame or two, a bass note and
two chord notes held for two to four frames. Each scale runs in a fresh process (one
epoch of a small LSTM: the measure is the data path, not the model), and its peak
resident memory is read from the operating system. :func:`measure` is what
``bench/scale.py`` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEQSUITE = [sys.executable, "-m", "seqsuite"]


def synthetic_rolls(pieces: int, seed: int = 0) -> list[np.ndarray]:
    """``pieces`` (frames, 88) uint8 rolls shaped like folk tunes (see the module doc)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(200), 0.6, pieces), 40, 1800).astype(int)
    out = []
    for length in lengths:
        roll = np.zeros((length, 88), dtype=np.uint8)
        melody = np.clip(39 + np.cumsum(rng.integers(-3, 4, length)) % 24, 24, 60)
        roll[np.arange(length), melody] = 1
        for start in range(0, length, 4):
            root = int(rng.integers(15, 27))
            roll[start : start + int(rng.integers(2, 5)), [root, root + 16, root + 19]] = 1
        out.append(roll)
    return out


def write_benchmark(path: Path, pieces: int, seed: int = 0) -> int:
    """A .mat file with ``pieces`` training rolls and a tenth each for validation and
    test; returns the training frames."""
    import scipy.io

    cells, frames = {}, 0
    for offset, (name, count) in enumerate(
        (
            ("traindata", pieces),
            ("validdata", max(1, pieces // 10)),
            ("testdata", max(1, pieces // 10)),
        )
    ):
        rolls = synthetic_rolls(count, seed + offset)
        cell = np.empty((1, len(rolls)), dtype=object)
        for i, roll in enumerate(rolls):
            cell[0, i] = roll
        cells[name] = cell
        if name == "traindata":
            frames = sum(len(r) for r in rolls)
    scipy.io.savemat(path, cells, do_compression=True)
    return frames


def measure(scale: int, base: int = 60, workdir: Path | None = None) -> dict[str, float]:
    """Wall seconds and peak resident MB of one run (one epoch, 1 x 64 LSTM) on ``scale``
    times ``base`` training pieces, in a fresh process with one thread."""
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        data = Path(folder) / f"rolls-{scale}x.mat"
        frames = write_benchmark(data, base * scale)
        command = [
            *SEQSUITE,
            "run",
            "music",
            "--data",
            str(data),
            "--set",
            "task.representation='pianoroll'",
            "--set",
            "backbone.hidden_size=64",
            "--set",
            "backbone.num_layers=1",
            "--epochs",
            "1",
            "--out",
            str(Path(folder) / "run"),
            "--quiet",
        ]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
        }
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            raise RuntimeError(
                f"scale {scale}: exit {status}: {child.stderr.read().decode()[-2000:]}"
            )
        metrics = json.loads((Path(folder) / "run" / "metrics.json").read_text())
        return {
            "scale": scale,
            "pieces": base * scale,
            "train_frames": frames,
            "file_mb": round(data.stat().st_size / 1e6, 2),
            "wall_s": round(wall, 1),
            "train_s": round(metrics["train_seconds"], 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--base", type=int, default=60)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = [measure(s, args.base) for s in args.scales]
    for row in rows:
        print(json.dumps(row))
    if args.write:
        sys.path.insert(0, str(Path(__file__).parent))
        from results_doc import replace_section

        lines = [
            f"Command: `python bench/music_scale.py --scales {' '.join(map(str, args.scales))} --base {args.base} --write`",
            "",
            "| scale | training pieces | training frames | .mat file | wall | of which training | peak memory |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {r['scale']}x | {r['pieces']:,} | {r['train_frames']:,} | {r['file_mb']} MB | "
                f"{r['wall_s']} s | {r['train_s']} s | {r['peak_rss_mb']:,} MB |"
                for r in rows
            ],
        ]
        replace_section("music-scale", "\n".join(lines))


if __name__ == "__main__":
    main()
