"""The ``[task]`` section of the speech task: its options, their bounds and help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqsuite.errors import UserError

from .features import FeatureSettings


@dataclass
class SpeechConfig:
    """The ``[task]`` section of ``seqsuite run speech``."""

    sample_rate: int = field(default=16_000, metadata={"min": 4000})
    features: Literal["mfcc", "logmel"] = "mfcc"
    n_mfcc: int = field(default=20, metadata={"min": 4})
    n_mels: int = field(default=40, metadata={"min": 8})
    f_max: float = field(
        default=0.0,
        metadata={"min": 0.0, "help": "highest frequency analysed (Hz); 0 = half the sample rate"},
    )
    deltas: int = field(
        default=1, metadata={"min": 0, "max": 2, "help": "0, 1 (deltas) or 2 (+ delta-deltas)"}
    )
    normalise: Literal["speaker", "data", "utterance"] = field(
        default="speaker",
        metadata={
            "help": "statistics each coefficient is normalised by: the speaker's recordings "
            "(where the data says who spoke; else the training data's), the training data's, "
            "or each utterance's own"
        },
    )
    pooling: Literal["last", "mean", "max", "meanmax", "attention"] = "meanmax"
    dropout: float = field(default=0.3, metadata={"min": 0.0, "below": 1.0})
    warp: float = field(
        default=0.0,
        metadata={
            "min": 0.0,
            "below": 0.5,
            "help": "training: frequency axis scaled by 1 +- up to this (vocal tract length)",
        },
    )
    noise_snr: list[float] = field(
        default_factory=list,
        metadata={"help": "training: noise added at an SNR drawn from [low, high] dB; [] = none"},
    )
    freq_mask: int = field(
        default=4, metadata={"min": 0, "help": "SpecAugment: widest masked band (coefficients)"}
    )
    time_mask: int = field(
        default=10, metadata={"min": 0, "help": "SpecAugment: longest masked stretch (frames)"}
    )
    masks: int = field(
        default=1, metadata={"min": 1, "help": "SpecAugment: bands and stretches per utterance"}
    )
    synth_voices: int = field(
        default=100,
        metadata={
            "min": 0,
            "help": "your data: each label that is a word or number also spoken by this many "
            "eSpeak NG voices, added to training (labels must be the words spoken; 0 = none)",
        },
    )
    trim_db: float = field(
        default=40.0,
        metadata={
            "min": 0.0,
            "help": "silence before and after the words: frames this many dB below the "
            "loudest are dropped at both ends (keeping 50 ms); 0 = keep every frame",
        },
    )
    trim_floor_db: float = field(
        default=6.0,
        metadata={
            "min": 0.0,
            "help": "room noise before and after the words: with trim_db, frames less than "
            "this many dB above the recording's quietest tenth are dropped too; 0 = off",
        },
    )
    max_seconds: float = field(
        default=4.0,
        metadata={"min": 0.1, "help": "longer audio is cut (counted as truncated_examples)"},
    )
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    audio_column: str = field(
        default="audio", metadata={"help": "in-memory / Hugging Face data: the audio column"}
    )
    label_column: str = field(
        default="label", metadata={"help": "in-memory / Hugging Face data: the label column"}
    )
    label_order: Literal["natural", "alphabetical", "first_seen"] = field(
        default="natural",
        metadata={"help": "class order: numbers (and number words) by value, a-z, or as listed"},
    )
    speakers: int = field(
        default=100, metadata={"min": 4, "help": "digits: training speakers (accent + voice)"}
    )
    takes: int = field(
        default=2, metadata={"min": 1, "help": "digits: utterances per speaker and word"}
    )

    def validate(self) -> None:
        snr = self.noise_snr
        if snr and (len(snr) != 2 or not snr[0] <= snr[1]):
            raise UserError(f"task.noise_snr: got {snr}, expected [low, high] in dB, or []")
        if self.f_max and self.f_max > self.sample_rate / 2:
            raise UserError(
                f"task.f_max: {self.f_max:g} Hz is above half the sample rate "
                f"({self.sample_rate / 2:g} Hz)"
            )

    def feature_settings(self) -> FeatureSettings:
        return FeatureSettings(
            self.sample_rate,
            self.n_mels,
            f_max=self.f_max,
            trim_db=self.trim_db,
            trim_floor_db=self.trim_floor_db,
        )
