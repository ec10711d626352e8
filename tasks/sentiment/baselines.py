"""The baselines a sentiment model must beat, on the same split."""

from __future__ import annotations

import numpy as np


def majority(train_labels: np.ndarray, n: int) -> np.ndarray:
    """Always the most frequent training class."""
    return np.full(n, np.bincount(train_labels).argmax())


def bag_of_words(
    train_texts: list[str], train_labels: np.ndarray, test_texts: list[str], seed: int = 0
) -> np.ndarray:
    """TF-IDF of words and word pairs, then logistic regression (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)
    features = vectorizer.fit_transform(train_texts)
    model = LogisticRegression(C=4.0, max_iter=2000, random_state=seed)
    model.fit(features, train_labels)
    return model.predict(vectorizer.transform(test_texts))
