"""Text generation: a character- or word-level LSTM language model, char-rnn style."""

from .task import TextgenConfig, TextgenTask

__all__ = ["TextgenConfig", "TextgenTask"]
