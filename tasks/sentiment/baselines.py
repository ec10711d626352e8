"""The feature baseline a sentiment model must beat, on the same split."""

from __future__ import annotations

from typing import Any


def bag_of_words(seed: int = 0) -> Any:
    """TF-IDF of words and word pairs, then logistic regression (scikit-learn): an
    estimator that fits on texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True),
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed),
    )
