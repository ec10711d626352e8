"""The speech model's front end: stored log-mel frames -> the features the backbone reads.

Frames are stored once as log-mel energies (dB); everything else happens here, on whole
batches, so that one store serves every feature choice and augmentation varies each
epoch:

    log-mel (batch, time, n_mels)
      -> [training] vocal-tract-length perturbation: the frequency axis stretched by a
         random factor per utterance (a shorter or longer vocal tract; Jaitly & Hinton 2013)
      -> [training] additive noise at a random signal-to-noise ratio, in the power domain
      -> MFCCs (a DCT over the mel axis) or the log-mel energies themselves
      -> deltas (and delta-deltas), padding-aware
      -> per-utterance normalisation of each coefficient (CMVN), over the real frames
      -> [training] SpecAugment: bands of coefficients and stretches of time set to zero
    features (batch, time, size)

Padding never changes a result: deltas repeat each utterance's last real frame, and means
and spreads are taken over real frames only (``batch["lengths"]``). Without ``lengths``
(an exported model) every frame is real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

DELTA_WINDOW = 2  # frames on each side, as torchaudio.transforms.ComputeDeltas(win_length=5)


@dataclass(frozen=True)
class FrontEndSettings:
    """What the front end computes (saved with a run) and how it augments in training."""

    n_mels: int = 40
    kind: str = "mfcc"  # "mfcc" or "logmel"
    n_mfcc: int = 20
    deltas: int = 1
    sample_rate: int = 16_000
    f_min: float = 0.0
    f_max: float = 8_000.0
    # training only
    warp: float = 0.0  # VTLP: frequency scale drawn from [1 - warp, 1 + warp]
    noise_snr: tuple[float, float] = (0.0, 0.0)  # dB range of added noise; (0, 0) = none
    freq_mask: int = 0
    time_mask: int = 0
    masks: int = 1  # SpecAugment masks of each kind per utterance

    @property
    def base(self) -> int:
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def size(self) -> int:
        return self.base * (1 + self.deltas)


def mel_centres(settings: FrontEndSettings) -> Tensor:
    """(n_mels,) centre frequency (Hz) of each mel band (HTK mel scale, as torchaudio)."""
    low, high = _hz_to_mel(settings.f_min), _hz_to_mel(settings.f_max)
    mels = torch.linspace(low, high, settings.n_mels + 2, dtype=torch.float64)[1:-1]
    return 700.0 * (10 ** (mels / 2595.0) - 1.0)


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def real_frames(lengths: Tensor | None, x: Tensor) -> Tensor:
    """(batch, time, 1) float mask: 1 on real frames, 0 on padding."""
    b, t, _ = x.shape
    if lengths is None:
        return torch.ones(b, t, 1, dtype=x.dtype, device=x.device)
    steps = torch.arange(t, device=x.device)[None, :]
    return (steps < lengths.to(x.device)[:, None]).to(x.dtype)[..., None]


def hold_last(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Padding frames replaced by each utterance's last real frame (so that deltas near
    the end see what they would see without padding)."""
    if lengths is None:
        return x
    t = x.shape[1]
    last = (lengths.to(x.device) - 1).clamp(min=0)[:, None]
    index = torch.minimum(torch.arange(t, device=x.device)[None, :], last)
    return torch.gather(x, 1, index[..., None].expand_as(x))


def deltas(x: Tensor) -> Tensor:
    """(batch, time, size) regression deltas over +-2 frames, edges repeated."""
    n = DELTA_WINDOW
    padded = torch.cat([x[:, :1].expand(-1, n, -1), x, x[:, -1:].expand(-1, n, -1)], dim=1)
    t = x.shape[1]
    out = torch.zeros_like(x)
    for k in range(1, n + 1):
        out = out + k * (padded[:, n + k : n + k + t] - padded[:, n - k : n - k + t])
    return out / (2 * sum(k * k for k in range(1, n + 1)))


def normalise(x: Tensor, mask: Tensor) -> Tensor:
    """Each coefficient of each utterance to zero mean and unit spread over its real
    frames. Centred twice (the second pass removes the rounding error of the first), so
    that a small spread around a large mean survives float32."""
    count = mask.sum(1, keepdim=True).clamp(min=1)
    centred = x * mask
    for _ in range(2):
        centred = (centred - centred.sum(1, keepdim=True) / count) * mask
    spread = (centred.square().sum(1, keepdim=True) / count).sqrt()
    return centred / (spread + 1e-5)


def coefficients(x: Tensor, dct: Tensor | None, order: int, lengths: Tensor | None) -> Tensor:
    """(batch, time, n_mels) log-mel -> MFCCs (``dct`` (n_mels, n_mfcc)) or the log-mel
    itself, with ``order`` orders of deltas beside it: (batch, time, base x (1 + order))."""
    if dct is not None:
        x = x @ dct
    parts = [hold_last(x, lengths)]
    for _ in range(order):  # each order sees its input's last real frame repeated
        parts.append(hold_last(deltas(parts[-1]), lengths))
    return torch.cat(parts, dim=-1)


def summary(frames: np.ndarray, settings: FrontEndSettings) -> np.ndarray:
    """(2 x size,) each coefficient's mean and spread over one utterance's frames
    (time, n_mels), before normalisation: the features of the order-blind baseline."""
    import torchaudio.functional as AF

    dct = (
        AF.create_dct(settings.n_mfcc, settings.n_mels, "ortho")
        if settings.kind == "mfcc"
        else None
    )
    x = coefficients(
        torch.from_numpy(np.array(frames, np.float32))[None], dct, settings.deltas, None
    )[0]
    return torch.cat([x.mean(0), x.std(0, correction=0)]).numpy()


class SpeechFrontEnd(nn.Module):
    """An input adapter: ``batch["x"]`` log-mel dB (batch, time, n_mels) and
    ``batch["lengths"]`` -> (batch, time, ``output_size``) normalised features.

    Normalisation: with ``batch["mean"]`` and ``batch["std"]`` ((batch, 1, size): each
    example's speaker's statistics, :mod:`.cmvn`) by those; otherwise by ``statistics``
    (the training data's (mean, std), (size,) each) when given; otherwise each utterance
    by its own."""

    def __init__(self, settings: FrontEndSettings, statistics: tuple[list, list] | None = None):
        super().__init__()
        self.given = statistics is not None
        mean, std = statistics or ([0.0] * settings.size, [1.0] * settings.size)
        self.register_buffer("data_mean", torch.tensor(mean).view(1, 1, -1), persistent=False)
        self.register_buffer("data_std", torch.tensor(std).view(1, 1, -1), persistent=False)
        self.settings = settings
        self.output_size = settings.size
        import torchaudio.functional as AF

        dct = AF.create_dct(settings.n_mfcc, settings.n_mels, "ortho")  # (n_mels, n_mfcc)
        self.register_buffer("dct", dct, persistent=False)
        centres = mel_centres(settings)
        self.register_buffer("centres", centres.float(), persistent=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        s = self.settings
        x, lengths = batch["x"].float(), batch.get("lengths")
        mask = real_frames(lengths, x)
        if self.training and s.warp > 0:
            x = self.warp(x)
        if self.training and s.noise_snr[1] > 0:
            x = self.noise(x, mask)
        x = coefficients(x, self.dct if s.kind == "mfcc" else None, s.deltas, lengths)
        if "mean" in batch:  # each example's speaker's statistics
            x = (x - batch["mean"]) / (batch["std"] + 1e-5) * mask
        elif self.given:  # the training data's
            x = (x - self.data_mean) / (self.data_std + 1e-5) * mask
        else:
            x = normalise(x, mask)
        if self.training and (s.freq_mask or s.time_mask):
            x = x * self.spec_augment_mask(x)
        return x

    def warp(self, x: Tensor) -> Tensor:
        """Each utterance's mel axis read at frequencies scaled by a random factor
        (VTLP): band k takes the energy found at centre_k / factor, interpolated."""
        b, _, n = x.shape
        factor = 1 + (torch.rand(b, 1, device=x.device) * 2 - 1) * self.settings.warp
        centres = self.centres.to(x.device)
        wanted = (centres[None, :] / factor).clamp(centres[0], centres[-1])  # (b, n)
        upper = torch.searchsorted(centres, wanted.contiguous()).clamp(1, n - 1)
        lower = upper - 1
        share = (wanted - centres[lower]) / (centres[upper] - centres[lower])
        low = torch.gather(x, 2, lower[:, None, :].expand(-1, x.shape[1], -1))
        high = torch.gather(x, 2, upper[:, None, :].expand(-1, x.shape[1], -1))
        return low + (high - low) * share[:, None, :]

    def noise(self, x: Tensor, mask: Tensor) -> Tensor:
        """Stationary noise with a random spectral tilt, added in the power domain at a
        random signal-to-noise ratio (from the utterance's mean power)."""
        b, _, n = x.shape
        low, high = self.settings.noise_snr
        snr = low + torch.rand(b, 1, 1, device=x.device) * (high - low)
        power = 10 ** (x / 10)
        mean_power = (power * mask).sum((1, 2), keepdim=True) / (mask.sum(1, keepdim=True) * n)
        tilt = (torch.rand(b, 1, 1, device=x.device) * 2 - 1) * 12  # dB across the band
        shape = 10 ** (tilt * torch.linspace(-0.5, 0.5, n, device=x.device) / 10)
        floor = mean_power * 10 ** (-snr / 10) * shape
        jitter = torch.distributions.Exponential(torch.ones((), device=x.device)).sample(x.shape)
        return 10 * torch.log10(power + floor * jitter + 1e-10)

    def spec_augment_mask(self, x: Tensor) -> Tensor:
        """(batch, time, size) of 0/1: ``masks`` bands and stretches per utterance."""
        s = self.settings
        b, t, f = x.shape
        keep = torch.ones(b, t, f, dtype=torch.bool, device=x.device)
        for _ in range(s.masks):
            for width_max, size, axis in ((s.freq_mask, f, 2), (s.time_mask, t, 1)):
                if not width_max:
                    continue
                width = torch.randint(0, width_max + 1, (b, 1), device=x.device)
                start = (torch.rand(b, 1, device=x.device) * (size - width + 1).clamp(min=1)).long()
                where = torch.arange(size, device=x.device)[None, :]
                band = (where >= start) & (where < start + width)
                keep &= ~(band[:, None, :] if axis == 2 else band[:, :, None])
        return keep.to(x.dtype)
