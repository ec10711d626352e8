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
