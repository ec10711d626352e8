"""seqsuite against Keras 3 (torch backend): the tutorial's example and a larger shape.

    pip install keras        # not a dependency of seqsuite; only this benchmark needs it
    python bench/keras_compare.py [--repeats 3] [--write]

Both sides train the same model on the same data, side by side in one process, one after
the other: the tutorial's LSTM(50, activation="relu") + Dense(1), Adam(1e-3), MSE, 100
epochs of batch 32 on X = randn(100, 10, 1), y = sin(mean(X)); and a larger one,
LSTM(128) (tanh) + Dense(1) on 4,000 sequences of 50 steps x 8 features, 5 epochs of batch
64. Reports the median wall time of ``fit`` over the repeats, the ratio, and the final
training MSE of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

from seqsuite import BackboneConfig, SequenceRegressor, TrainConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

SHAPES = {
    "tutorial": {
        "n": 100,
        "steps": 10,
        "features": 1,
        "units": 50,
        "activation": "relu",
        "epochs": 100,
        "batch": 32,
    },
    "larger": {
        "n": 4000,
        "steps": 50,
        "features": 8,
        "units": 128,
        "activation": "tanh",
        "epochs": 5,
        "batch": 64,
    },
}


def data(shape: dict) -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(0)
    x = np.random.randn(shape["n"], shape["steps"], shape["features"]).astype(np.float32)
    y = np.sin(np.mean(x, axis=(1, 2)))[:, None].astype(np.float32)
    return x, y


def keras_fit(shape: dict, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((shape["steps"], shape["features"])),
            keras.layers.LSTM(shape["units"], activation=shape["activation"]),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    started = time.perf_counter()
    model.fit(x, y, epochs=shape["epochs"], batch_size=shape["batch"], verbose=0)
    seconds = time.perf_counter() - started
    return seconds, float(model.evaluate(x, y, verbose=0))


def seqsuite_fit(shape: dict, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    model = SequenceRegressor(
        shape["features"],
        1,
        BackboneConfig(hidden_size=shape["units"], activation=shape["activation"], init="keras"),
        seed=seed,
    )
    started = time.perf_counter()
    model.fit(
        x,
        y,
        TrainConfig(
            epochs=shape["epochs"], batch_size=shape["batch"], lr=1e-3, clip_norm=0, patience=0
        ),
    )
    seconds = time.perf_counter() - started
    return seconds, model.evaluate(x, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    import keras
    import torch

    lines = [
        f"Command: `python bench/keras_compare.py --repeats {args.repeats} --write` "
        f"(Keras {keras.__version__} on the {keras.backend.backend()} backend, PyTorch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)",
        "",
        "| shape | Keras fit, s | seqsuite fit, s | seqsuite is faster by | Keras final MSE | seqsuite final MSE |",
        "|---|---|---|---|---|---|",
    ]
    for name, shape in SHAPES.items():
        x, y = data(shape)
        keras_runs = [keras_fit(shape, x, y, seed) for seed in range(args.repeats)]
        ours = [seqsuite_fit(shape, x, y, seed) for seed in range(args.repeats)]
        k_time = statistics.median(t for t, _ in keras_runs)
        s_time = statistics.median(t for t, _ in ours)
        lines.append(
            f"| {name}: {shape['n']} x {shape['steps']} x {shape['features']}, LSTM({shape['units']}, "
            f"{shape['activation']}), {shape['epochs']} epochs, batch {shape['batch']} | {k_time:.2f} | {s_time:.2f} | "
            f"**{k_time / s_time:.1f}×** | {statistics.median(m for _, m in keras_runs):.2e} | "
            f"{statistics.median(m for _, m in ours):.2e} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        "TensorFlow was not installed for this comparison (Keras on the torch backend only).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("keras-compare", text)


if __name__ == "__main__":
    main()
