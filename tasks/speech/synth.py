"""Spoken words synthesised in-process with eSpeak NG (``espeakng-loader`` bundles the
library and its voices, so nothing else is installed and nothing is downloaded).

A *speaker* is an English accent (``en-us``, ``en-gb-scotland``, ...) with a voice
variant (``m3``, ``f2``, ``klatt4``, ``croak`` ...). Each utterance gets its own speaking
rate, pitch and pitch range, then a random gain, time shift and background noise at a
random signal-to-noise ratio. Everything follows from the seed.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqsuite.errors import UserError

ACCENTS = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER values
_SYNCHRONOUS = 0x02  # AUDIO_OUTPUT_SYNCHRONOUS
_END_PAUSE = 0x1000
_lock = threading.Lock()


NO_ESPEAK = (
    "the speech task's default data is synthesised with eSpeak NG (package espeakng-loader, "
    "GPL-3), which cannot be loaded here; train on your recordings with --data FOLDER_OR_MANIFEST"
)


class Espeak:
    """A minimal ctypes binding: set voice and prosody, synthesise text to int16 samples."""

    _instance: Espeak | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            self.lib.espeak_Initialize.restype = ctypes.c_int
            self.sample_rate = self.lib.espeak_Initialize(
                _SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
            )
        except (ImportError, OSError, AttributeError) as err:
            raise UserError(NO_ESPEAK + f" ({type(err).__name__}: {err})") from None
        if self.sample_rate <= 0:
            raise UserError(NO_ESPEAK + " (espeak_Initialize failed)")
        self.chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
        )

        def collect(wav, count, _events):  # called by the library while it synthesises
            if wav and count > 0:
                self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        self._callback = callback_type(collect)  # keep a reference: the library holds it
        self.lib.espeak_SetSynthCallback(self._callback)
        self.variants = sorted(
            p.name for p in (Path(espeakng_loader.get_data_path()) / "voices" / "!v").iterdir()
        )

    @classmethod
    def get(cls) -> Espeak:
        if cls._instance is None:
            cls._instance = Espeak()
        return cls._instance

    def say(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> np.ndarray:
        """Samples (float32 in [-1, 1]) at ``self.sample_rate``."""
        with _lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            self.lib.espeak_SetParameter(_RATE, int(rate), 0)
            self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            self.lib.espeak_SetParameter(_RANGE, int(pitch_range), 0)
            self.chunks.clear()
            data = text.encode()
            self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _END_PAUSE, None, None)
            self.lib.espeak_Synchronize()
            samples = np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)
        return samples.astype(np.float32) / 32768.0


@dataclass
class Utterance:
    audio: np.ndarray  # float32 samples
    label: str
    speaker: str  # accent+variant
    split: str  # train / val / test


def speakers(variants: list[str], seed: int, count: int) -> dict[str, list[str]]:
    """``count`` accent+variant speakers per split. Validation and test use voice
    variants that training never hears, so the score measures unseen voices."""
    rng = np.random.default_rng(seed)
    shuffled = list(rng.permutation(variants))
    n_test = max(1, len(shuffled) // 10)
    held = {
        "test": shuffled[:n_test],
        "val": shuffled[n_test : 2 * n_test],
        "train": shuffled[2 * n_test :],
    }
    chosen = {}
    for split, pool in held.items():
        wanted = count if split == "train" else max(2, count // 8)
        combos = [f"{a}+{v}" for v in pool for a in ACCENTS]
        picked = rng.choice(len(combos), size=min(wanted, len(combos)), replace=False)
        chosen[split] = [combos[i] for i in sorted(picked)]
    return chosen


def synthesise(
    words: tuple[str, ...], seed: int, speakers_count: int, takes: int, sample_rate: int
) -> list[Utterance]:
    """The whole default data set (deterministic for a seed)."""
    return list(utterances(words, seed, speakers_count, takes, sample_rate))


def utterances(
    words: tuple[str, ...],
    seed: int,
    speakers_count: int,
    takes: int,
    sample_rate: int,
    splits: tuple[str, ...] = ("test", "val", "train"),
) -> Iterator[Utterance]:
    """``words`` spoken by the voices of ``splits``, one utterance at a time
    (deterministic for a seed)."""
    from .audio import resample

    engine = Espeak.get()
    rng = np.random.default_rng(seed)
    for split, voices in speakers(engine.variants, seed, speakers_count).items():
        if split not in splits:
            continue
        for voice in voices:
            for word in words:
                for _ in range(takes):
                    audio = engine.say(
                        word,
                        voice,
                        rate=int(rng.integers(110, 230)),
                        pitch=int(rng.integers(20, 80)),
                        pitch_range=int(rng.integers(20, 90)),
                    )
                    if len(audio) == 0 or np.abs(audio).max() < 1e-4:
                        continue
                    audio = resample(audio, engine.sample_rate, sample_rate)
                    yield Utterance(augment(audio, rng, sample_rate), word, voice, split)


def augment(audio: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Random gain (±6 dB), a shift within 0.25 s of silence, and noise at 5–30 dB SNR."""
    audio = audio * 10 ** (rng.uniform(-6, 6) / 20)
    before, after = rng.integers(0, sample_rate // 4, size=2)
    audio = np.concatenate([np.zeros(before, np.float32), audio, np.zeros(after, np.float32)])
    power = float(np.mean(audio**2)) or 1e-8
    snr = rng.uniform(5, 30)
    noise = rng.normal(0, np.sqrt(power / 10 ** (snr / 10)), size=len(audio))
    if rng.random() < 0.5:  # brown-ish noise: low frequencies, like a room or a car
        noise = np.cumsum(noise) / np.sqrt(np.arange(1, len(noise) + 1))
        noise *= np.sqrt(power / 10 ** (snr / 10)) / (noise.std() or 1)
    return np.clip(audio + noise, -1, 1).astype(np.float32)
