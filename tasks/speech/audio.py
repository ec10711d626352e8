"""Reading audio files: any format soundfile reads (WAV, FLAC, OGG), to mono at one rate.

A file is checked before it is read: it must be a regular file (a FIFO would block and a
device never ends), and what its header declares (sample rate, length) must lie within
the ``[data]`` limits (:class:`seqsuite.config.DataSettings`), so a small file declaring
a 1 Hz rate or ten hours cannot make the reader allocate gigabytes. Only the first
``keep_seconds`` are read, in blocks averaged to mono as they come, and the resampler's
work is bounded whatever the rate (:func:`resample`).

A file that cannot be used raises :class:`BadAudio` with the reason (one line, without
the path): a folder or manifest skips and lists such files, a file given on its own is
refused. :class:`AudioLimit`, a kind of BadAudio, says a limit was passed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from seqsuite.config import DataSettings
from seqsuite.errors import UserError
from seqsuite.input_files import regular_file

#: samples decoded per block (over all channels): the reader's memory, whatever the file
BLOCK_SAMPLES = 1 << 20
#: the largest sample accepted: float files written in 16-bit units (32,768) pass; far
#: larger values make the features infinite
MAX_AMPLITUDE = 1e6
#: the start of libsndfile's messages, naming the Python file object it was given
OPENING = re.compile(r"^Error opening .*?>: ")
#: the resampling kernel (new x old rate, after reduction) is kept below this many elements
MAX_KERNEL = 4_000_000


class BadAudio(Exception):
    """A file that cannot be used, and why (without the path)."""


class AudioLimit(BadAudio):
    """A file declaring more than the ``[data]`` limits allow."""


@dataclass
class Clip:
    samples: np.ndarray  # (samples,) float32 mono at the requested rate
    truncated: bool  # the file held more than ``keep_seconds``


def check_long_enough(clip: Clip, sample_rate: int, window: int) -> None:
    """At least one analysis window of audio, said in time (the samples are counted after
    resampling, which a user does not see)."""
    if len(clip.samples) <= window:
        raise BadAudio(
            f"too short ({1000 * len(clip.samples) / sample_rate:.1f} ms of audio; "
            f"one analysis window is {1000 * window / sample_rate:g} ms)"
        )


def check_header(rate: int, frames: int, limits: DataSettings) -> None:
    """What a header declares, against the ``[data]`` limits, before anything is read."""
    if not limits.min_sample_rate <= rate <= limits.max_sample_rate:
        raise AudioLimit(
            f"declares a sample rate of {rate} Hz, outside {limits.min_sample_rate}.."
            f"{limits.max_sample_rate} Hz (data.min_sample_rate / data.max_sample_rate)"
        )
    seconds = frames / rate
    if seconds > limits.max_audio_seconds:
        raise AudioLimit(
            f"declares {seconds:,.0f} s of audio, more than data.max_audio_seconds="
            f"{limits.max_audio_seconds:g} (raise it with --set data.max_audio_seconds=N)"
        )


def read_clip(
    path: str | Path,
    sample_rate: int,
    limits: DataSettings | None = None,
    keep_seconds: float = math.inf,
) -> Clip:
    """The first ``keep_seconds`` of ``path``, mono, at ``sample_rate``."""
    import soundfile

    limits = limits or DataSettings()
    try:
        regular_file(path, "audio file")
    except UserError as err:
        raise BadAudio(str(err).removeprefix(f"{path}: ")) from None
    if Path(path).stat().st_size == 0:
        raise BadAudio("empty file (0 bytes)")
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; soundfile reads through it
    except OSError as err:  # libsndfile would only say "System error."
        raise BadAudio(f"cannot be read ({err.strerror or type(err).__name__})") from None
    try:
        with handle, soundfile.SoundFile(handle) as sound:
            check_header(sound.samplerate, max(sound.frames, 0), limits)
            wanted = sound.frames
            if math.isfinite(keep_seconds):
                wanted = min(wanted, math.ceil(keep_seconds * sound.samplerate))
            mono = _read_mono(sound, wanted)
            rate = sound.samplerate
            truncated = sound.frames > wanted
    except BadAudio:
        raise
    except Exception as err:  # noqa: BLE001 - libsndfile reports many kinds of damage
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        first = OPENING.sub("", first)  # libsndfile names our file object, not the file
        raise BadAudio(f"cannot decode ({first})") from None
    if len(mono) == 0:
        raise BadAudio("no samples")
    if not np.isfinite(mono).all():
        raise BadAudio("samples are not finite")
    peak = float(np.abs(mono).max())
    if peak > MAX_AMPLITUDE:  # its spectrum would overflow to inf, and the answer be NaN
        raise BadAudio(
            f"samples reach {peak:.3g}; audio holds values from -1 to 1 (or, unscaled, "
            f"up to {MAX_AMPLITUDE:g})"
        )
    if peak < 1e-4:
        raise BadAudio("silent")
    return Clip(resample(mono, rate, sample_rate), truncated)


def _read_mono(sound, frames: int) -> np.ndarray:
    """Up to ``frames`` frames averaged over channels, decoded a block at a time."""
    out = np.empty(frames, np.float32)
    block = max(1, BLOCK_SAMPLES // max(1, sound.channels))
    done = 0
    while done < frames:
        part = sound.read(min(block, frames - done), dtype="float32", always_2d=True)
        if len(part) == 0:
            break  # the header promised more than the file holds
        out[done : done + len(part)] = part.mean(axis=1)
        done += len(part)
    return out[:done]


def read_audio(
    path: str | Path,
    sample_rate: int,
    limits: DataSettings | None = None,
    keep_seconds: float = math.inf,
) -> np.ndarray:
    """Mono float32 samples at ``sample_rate`` (see :func:`read_clip`)."""
    return read_clip(path, sample_rate, limits, keep_seconds).samples


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``audio`` from ``rate`` to ``target`` Hz. The windowed-sinc kernel has (target /
    g) x (rate / g) taps for g = gcd: for rates with a small common divisor (44101 and
    16000) that is gigabytes, so the ratio is then replaced by the nearest one with a
    kernel under :data:`MAX_KERNEL` (an error in pitch below 0.1 %)."""
    if rate == target:
        return audio.astype(np.float32)
    import torchaudio.functional as AF

    ratio = Fraction(target, rate)
    limit = int(math.sqrt(MAX_KERNEL / ratio))  # denominators up to this keep it small
    while ratio.numerator * ratio.denominator > MAX_KERNEL and limit > 1:
        ratio = Fraction(target, rate).limit_denominator(limit)
        limit //= 2
    return AF.resample(
        torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
        ratio.denominator,
        ratio.numerator,
    ).numpy()
