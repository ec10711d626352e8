"""The tutorial's Keras example through seqsuite's Python API: final loss and time.

    python bench/keras_tutorial.py [--seeds 5] [--write]

Data exactly as the tutorial makes it (np.random.seed(0); X = randn(100, 10, 1);
y = sin(mean(X, axis=1))); model LSTM(50, activation="relu") + Dense(1); Adam(1e-3),
MSE, 100 epochs, batch 32. The relu activation runs seqsuite's custom (unfused) cell.
Reports the training MSE (``evaluate`` on the training data, as the tutorial does) and
the wall time of ``fit``, for PyTorch's and Keras' weight initialisation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from seqsuite import BackboneConfig, SequenceRegressor, TrainConfig

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    np.random.seed(0)
    X = np.random.randn(100, 10, 1)
    y = np.sin(np.mean(X, axis=1))
    rows = [
        "| weight init | training MSE after 100 epochs (median, min–max) | fit time, s (median) |",
        "|---|---|---|",
    ]
    for init in ("keras", "pytorch"):
        losses, times = [], []
        for seed in range(args.seeds):
            model = SequenceRegressor(
                1, 1, BackboneConfig(hidden_size=50, activation="relu", init=init), seed=seed
            )
            started = time.perf_counter()
            model.fit(
                X, y, TrainConfig(epochs=100, batch_size=32, lr=1e-3, clip_norm=0, patience=0)
            )
            times.append(time.perf_counter() - started)
            losses.append(model.evaluate(X, y))
        rows.append(
            f"| `{init}` | {statistics.median(losses):.2e} ({min(losses):.1e}–{max(losses):.1e}) | "
            f"{statistics.median(times):.2f} |"
        )
    text = "\n".join(rows) + (
        "\n\nKeras reaches about 1e-4 on this example (the issue's figure); the test "
        "`tests/test_keras_example.py` asserts ≤ 1e-3."
    )
    print(text)
    if args.write:
        replace_section(
            "keras-tutorial",
            f"Command: `python bench/keras_tutorial.py --seeds {args.seeds} --write`\n\n{text}",
        )


if __name__ == "__main__":
    main()
