"""Reading audio files: any format soundfile reads (WAV, FLAC, OGG), to mono at one rate.

A file that cannot be decoded, is empty or is silent raises :class:`BadAudio` with the
reason; the data loader counts and reports such files instead of failing the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class BadAudio(Exception):
    pass


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``."""
    import soundfile

    path = Path(path)
    if not path.exists():
        raise BadAudio("file not found")
    if path.stat().st_size == 0:
        raise BadAudio("empty file (0 bytes)")
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - libsndfile reports many kinds of damage
        raise BadAudio(
            f"cannot decode ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"
        ) from None
    if audio.shape[0] == 0:
        raise BadAudio("no samples")
    mono = audio.mean(axis=1)
    if not np.isfinite(mono).all():
        raise BadAudio("samples are not finite")
    if np.abs(mono).max() < 1e-4:
        raise BadAudio("silent")
    return resample(mono, rate, sample_rate)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return audio.astype(np.float32)
    import torchaudio.functional as AF

    return AF.resample(
        torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), rate, target
    ).numpy()
