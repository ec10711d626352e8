"""Sentiment classification: word embeddings -> the shared backbone -> pooling -> classes."""

from .task import SentimentConfig, SentimentTask

__all__ = ["SentimentConfig", "SentimentTask"]
