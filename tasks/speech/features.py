"""What is stored for each utterance: log-mel energies (dB), computed with
``torchaudio.transforms``. MFCCs, deltas, normalisation and augmentation are computed
from them by the model's front end (:mod:`.frontend`), so one stored set serves every
choice made there."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class FeatureSettings:
    """Everything that changes the stored frames (part of the store's key)."""

    sample_rate: int = 16_000
    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    f_min: float = 0.0
    f_max: float = 0.0  # 0: half the sample rate
    top_db: float = 80.0  # energies more than this below the utterance's loudest are raised to it

    @property
    def top_frequency(self) -> float:
        return self.f_max or self.sample_rate / 2

    @property
    def window(self) -> int:
        """Samples per analysis window."""
        return int(round(self.sample_rate * self.win_ms / 1000))

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> FeatureSettings:
        """Settings saved by a run (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})


class LogMel:
    """Waveform -> (frames, n_mels) float32 log-mel energies in dB."""

    def __init__(self, settings: FeatureSettings):
        import torchaudio.transforms as T

        s = settings
        self.settings = s
        self.mel = T.MelSpectrogram(
            sample_rate=s.sample_rate,
            n_fft=s.window,
            hop_length=int(round(s.sample_rate * s.hop_ms / 1000)),
            n_mels=s.n_mels,
            f_min=s.f_min,
            f_max=s.top_frequency,
            center=True,
        )
        self.db = T.AmplitudeToDB("power", top_db=s.top_db)

    @torch.no_grad()
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        return self.db(self.mel(wave)).T.numpy().astype(np.float32)
