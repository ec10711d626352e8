"""Features from waveforms with ``torchaudio.transforms``: MFCCs or log-mel energies with
optional deltas. They are cached raw; :func:`normalise` scales each utterance's
coefficients to zero mean and unit spread when the model reads them (the raw means and
spreads are what the non-recurrent baseline classifies)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class FeatureSettings:
    kind: str = "mfcc"  # "mfcc" or "logmel"
    sample_rate: int = 16_000
    n_mfcc: int = 20
    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    deltas: int = 1  # 0, 1 (deltas) or 2 (deltas and delta-deltas)

    @property
    def size(self) -> int:
        base = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        return base * (1 + self.deltas)


class FeatureExtractor:
    def __init__(self, settings: FeatureSettings):
        import torchaudio.transforms as T

        s = settings
        self.settings = s
        n_fft = int(round(s.sample_rate * s.win_ms / 1000))
        hop = int(round(s.sample_rate * s.hop_ms / 1000))
        mel = {"n_fft": n_fft, "hop_length": hop, "n_mels": s.n_mels, "center": True}
        if s.kind == "mfcc":
            self.transform = T.MFCC(sample_rate=s.sample_rate, n_mfcc=s.n_mfcc, melkwargs=mel)
        else:
            self.transform = torch.nn.Sequential(
                T.MelSpectrogram(sample_rate=s.sample_rate, **mel), T.AmplitudeToDB()
            )
        self.delta = T.ComputeDeltas()

    @torch.no_grad()
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """(frames, size) float32 features of one utterance."""
        spec = self.transform(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        parts = [spec]
        for _ in range(self.settings.deltas):
            parts.append(self.delta(parts[-1]))
        return torch.cat(parts, dim=0).T.numpy().astype(np.float32)  # (frames, size)


def normalise(features: np.ndarray) -> np.ndarray:
    """Per-utterance normalisation: each coefficient to zero mean and unit spread."""
    x = features.astype(np.float64)  # float32 loses a small spread around a large mean
    return ((x - x.mean(0)) / (x.std(0) + 1e-5)).astype(np.float32)
