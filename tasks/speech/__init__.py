"""Spoken-word recognition: MFCCs -> the shared backbone -> pooling -> which word."""

from .task import SpeechConfig, SpeechTask

__all__ = ["SpeechConfig", "SpeechTask"]
