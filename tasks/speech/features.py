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
    # leading and trailing frames more than trim_db below the loudest frame are dropped
    # (silence before and after the words), keeping trim_margin_ms of them; 0 keeps all.
    # Runs saved before it existed have none: 0 keeps their frames as they were.
    trim_db: float = 0.0
    trim_margin_ms: float = 50.0
    # ... and frames less than trim_floor_db above the recording's noise floor (its
    # quietest tenth of frames): room noise before and after the words; 0 = no such rule
    trim_floor_db: float = 0.0

    @property
    def top_frequency(self) -> float:
        return self.f_max or self.sample_rate / 2

    @property
    def hop(self) -> int:
        """Samples between frames."""
        return int(round(self.sample_rate * self.hop_ms / 1000))

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
            hop_length=s.hop,
            n_mels=s.n_mels,
            f_min=s.f_min,
            f_max=s.top_frequency,
            center=True,
        )
        self.db = T.AmplitudeToDB("power", top_db=s.top_db)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """The frames the model reads: the silence at either end trimmed."""
        return trimmed(self.whole(audio), self.settings)

    @torch.no_grad()
    def whole(self, audio: np.ndarray) -> np.ndarray:
        """Every frame of ``audio``, nothing trimmed."""
        wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        return self.db(self.mel(wave)).T.numpy().astype(np.float32)


def trimmed(frames: np.ndarray, settings: FeatureSettings) -> np.ndarray:
    """(time, n_mels) dB frames without the silence before and after the words. A
    recording padded with a second of silence on each side then reads as the words
    alone, as the training recordings (mostly cut close) did."""
    start, stop = kept_span(frames, settings)
    return frames[start:stop]


def kept_span(frames: np.ndarray, settings: FeatureSettings) -> tuple[int, int]:
    """(first, past-last) frame kept: frames whose total energy is more than ``trim_db``
    below the loudest frame's are dropped at either end, up to ``trim_margin_ms`` from
    the first and last frame above it. Every frame when ``trim_db`` is 0."""
    if settings.trim_db <= 0 or not len(frames):
        return 0, len(frames)
    energy = 10 * np.log10(np.power(10.0, frames.astype(np.float64) / 10).sum(1))
    threshold = energy.max() - settings.trim_db
    if settings.trim_floor_db > 0:
        floor = float(np.percentile(energy, 10))
        threshold = min(max(threshold, floor + settings.trim_floor_db), energy.max())
    loud = np.flatnonzero(energy >= threshold)
    if not loud.size:  # a threshold no frame reaches (NaN from an edited run): keep all
        return 0, len(frames)
    margin = int(round(settings.trim_margin_ms / settings.hop_ms))
    return max(0, int(loud[0]) - margin), min(len(frames), int(loud[-1]) + 1 + margin)


def trimmed_seconds(audio: np.ndarray, settings: FeatureSettings) -> float:
    """Seconds of ``audio`` trimmed before the first frame kept (for plots)."""
    if settings.trim_db <= 0:
        return 0.0
    return kept_span(LogMel(settings).whole(audio), settings)[0] * settings.hop_ms / 1000
