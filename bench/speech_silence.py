"""Recordings as users make them: the words with silence or room noise around them.

    python bench/speech_silence.py RUN_DIR [RUN_DIR ...] [--log FILE]

FSDD's recordings are cut close to the words; a user's recording from a phone or a
microphone has a second of silence or room noise before and after. Each run (kept by
``bench/speech_validation.py --keep``, whose development fold i scores speaker i+1, never
heard in training) is evaluated (``seqsuite eval RUN --data``, the speaker column given)
on its scored speaker's recordings four ways:

- ``as recorded``;
- ``silence 1 s``: one second of digital silence before and after;
- ``noise 40 dB``: one second before and after, and room noise (white, 40 dB below the
  words' mean power) over the whole recording;
- ``noise 30 dB``: the same at 30 dB.

Rows (run, way, accuracy) are printed and appended to the JSON-lines log.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402
from speech_recipes import report  # noqa: E402

WAYS = {  # name: (seconds of padding on each side, noise dB below the words; None = none)
    "as recorded": (0.0, None),
    "silence 1 s": (1.0, None),
    "noise 40 dB": (1.0, 40.0),
    "noise 30 dB": (1.0, 30.0),
}


def padded(samples: np.ndarray, rate: int, pad: float, snr: float | None, seed: int) -> np.ndarray:
    """``samples`` with ``pad`` seconds of silence each side, and noise ``snr`` dB below
    the words' mean power over the whole (when ``snr`` is given)."""
    edge = np.zeros(int(pad * rate), np.float64)
    out = np.concatenate([edge, samples.astype(np.float64), edge])
    if snr is not None:
        power = float(np.mean(samples.astype(np.float64) ** 2))
        rng = np.random.default_rng(seed)
        out = out + rng.normal(0.0, np.sqrt(power * 10 ** (-snr / 10)), len(out))
    return np.clip(out, -1.0, 1.0)


def scored_rows(run: Path) -> pd.DataFrame:
    """The run's test rows (its scored speaker) from the manifest it was trained on."""
    import tomllib

    data = tomllib.loads((run / "config.toml").read_text(encoding="utf-8"))["run"]["data"]
    rows = pd.read_csv(data)
    return rows[rows["split"] == "test"][["path", "label", "speaker"]]


def make_way(rows: pd.DataFrame, way: str, folder: Path) -> Path:
    """A manifest of ``rows`` made ``way`` (files written under ``folder``)."""
    pad, snr = WAYS[way]
    out_rows = []
    for k, row in enumerate(rows.itertuples(index=False)):
        samples, rate = sf.read(row.path, dtype="float32")
        target = folder / f"{k}.wav"
        sf.write(target, padded(samples, rate, pad, snr, seed=k), rate, subtype="PCM_16")
        out_rows.append({"path": str(target), "label": row.label, "speaker": row.speaker})
    manifest = folder / "manifest.csv"
    pd.DataFrame(out_rows).to_csv(manifest, index=False)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--log", default="speech_silence.jsonl")
    args = parser.parse_args()
    import seqsuite

    for run in map(Path, args.runs):
        rows = scored_rows(run)
        for way in WAYS:
            with tempfile.TemporaryDirectory() as tmp:
                manifest = make_way(rows, way, Path(tmp))
                metrics = seqsuite.evaluate(run, data=str(manifest), quiet=True)
            row = {
                "run": str(run),
                "trim_db": seqsuite.load(run).config["task"].get("trim_db"),
                "way": way,
                "files": len(rows),
                "accuracy": metrics["test"]["accuracy"],
            }
            report(row, args.log)


if __name__ == "__main__":
    main()
