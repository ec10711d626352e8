"""The tutorial seqsuite started from, through the public Python API (README section)."""

from __future__ import annotations

import numpy as np

from seqsuite import BackboneConfig, SequenceRegressor, TrainConfig


def test_tutorial_lstm_relu_reaches_keras_training_loss():
    np.random.seed(0)
    X = np.random.randn(100, 10, 1)
    y = np.sin(np.mean(X, axis=1))

    # Sequential([LSTM(50, activation='relu', input_shape=(10, 1)), Dense(1)]), adam, mse
    model = SequenceRegressor(
        input_size=1,
        output_size=1,
        backbone=BackboneConfig(hidden_size=50, activation="relu", init="keras"),
    )
    history = model.fit(
        X, y, TrainConfig(epochs=100, batch_size=32, lr=1e-3, clip_norm=0, patience=0)
    )
    predicted = model.predict(X)
    mse = model.evaluate(X, y)

    assert predicted.shape == (100, 1)
    assert len(history.history) == 100
    assert mse <= 1e-3  # Keras reaches about 1e-4
    assert (
        np.mean((predicted - y) ** 2) == np.float32(mse)
        or abs(np.mean((predicted - y) ** 2) - mse) < 1e-6
    )


def test_the_regressor_names_what_is_wrong_with_its_arrays():
    import pytest

    model = SequenceRegressor(input_size=2, output_size=1)
    X, y = np.zeros((4, 5, 2)), np.zeros(4)
    cases = [
        ((X, np.zeros((4, 2))), "y: 2 values per sample; this regressor has output_size=1"),
        ((X, np.zeros(3)), r"y: shape \(3,\); X has 4 samples"),
        ((np.zeros((4, 5, 3)), y), r"X: shape \(4, 5, 3\); expected \(samples, time, 2\)"),
        ((np.zeros((4, 5)), y), r"X: shape \(4, 5\); expected"),
        ((np.zeros((0, 5, 2)), y[:0]), "at least one sample"),
        ((np.where(np.arange(40).reshape(4, 5, 2) == 7, np.nan, X), y), r"NaN .* \(0, 3, 1\)"),
        ((X, [1, 2, "x", 4]), "y: expected an array of numbers"),
    ]
    for (inputs, targets), message in cases:
        with pytest.raises(ValueError, match=message):
            model.fit(inputs, targets, {"epochs": 1})
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, 5, 2), np.inf))


def test_the_regressor_leaves_the_callers_random_stream_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SequenceRegressor(input_size=1, seed=5)
    assert torch.equal(torch.rand(3), expected)
    first = SequenceRegressor(input_size=1, seed=5).model.state_dict()
    second = SequenceRegressor(input_size=1, seed=5).model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_the_regressor_works_with_scikit_learn_model_selection():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5, 1)).astype("float32")
    y = X.sum(axis=(1, 2))
    small = BackboneConfig(hidden_size=8)
    model = SequenceRegressor(input_size=1, backbone=small, train={"epochs": 2, "batch_size": 16})
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    search = GridSearchCV(model, {"train": [{"epochs": 1}, {"epochs": 30}]}, cv=2).fit(X, y)
    assert search.best_params_ == {"train": {"epochs": 30}}  # more training fits a sum better
    assert search.best_estimator_.score(X, y) > scores.mean()
