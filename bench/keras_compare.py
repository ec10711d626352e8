"""seqsuite against Keras 3 and a hand-written PyTorch loop: the tutorial's example and a
larger shape.

    python -m venv /work/benchenv-keras && /work/benchenv-keras/bin/pip install tensorflow-cpu keras
    OMP_NUM_THREADS=1 python bench/keras_compare.py [--repeats 5] [--keras-python /work/benchenv-keras/bin/python] [--write]

Every side trains the same model on the same data: the tutorial's LSTM(50,
activation="relu") + Dense(1), Adam(1e-3), MSE, 100 epochs of batch 32 on X = randn(100,
10, 1), y = sin(mean(X)); and a larger one, LSTM(128) (tanh) + Dense(1) on 4,000 sequences
of 50 steps x 8 features, 5 epochs of batch 64. seqsuite (``SequenceRegressor``) and the
hand-written PyTorch loop (``nn.LSTM``, the fused tanh kernel: what the custom relu cell
is measured against) run in this process in interleaved pairs; Keras runs in a
subprocess of each given Python (``--keras-python``, repeatable; the backend is the
environment's: TensorFlow in a bench-only venv, torch where Keras sits beside seqsuite),
neither being a dependency of seqsuite. Reports median ``fit`` wall times and the final
training MSE of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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
    from seqsuite import BackboneConfig, SequenceRegressor, TrainConfig

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


def torch_fit(shape: dict, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """The loop a PyTorch user writes: nn.LSTM (fused, tanh: it has no other activation)
    + Linear, Adam, shuffled batches."""
    import torch

    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(shape["features"], shape["units"], batch_first=True)
    head = torch.nn.Linear(shape["units"], 1)
    optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    started = time.perf_counter()
    for _ in range(shape["epochs"]):
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), shape["batch"]):
            rows = order[start : start + shape["batch"]]
            out, _ = lstm(inputs[rows])
            loss = torch.nn.functional.mse_loss(head(out[:, -1]), targets[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    with torch.no_grad():
        mse = float(torch.nn.functional.mse_loss(head(lstm(inputs)[0][:, -1]), targets))
    return seconds, mse


def keras_runs(python: str, name: str, repeats: int) -> tuple[str, list[tuple[float, float]]]:
    """Keras in ``python`` (a subprocess: its backend is fixed at import): its label and
    (seconds, mse) per seed."""
    command = [python, __file__, "--keras-worker", name, "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["label"], [tuple(r) for r in result["runs"]]


def keras_worker(name: str, repeats: int) -> None:
    """In the Keras environment: fit ``name`` ``repeats`` times, print one JSON line."""
    import keras

    if keras.backend.backend() == "tensorflow":  # one thread, as every side here
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    x, y = data(SHAPES[name])
    runs = [keras_fit(SHAPES[name], x, y, seed) for seed in range(repeats)]
    label = f"Keras {keras.__version__} ({keras.backend.backend()} {_backend_version()})"
    print(json.dumps({"label": label, "runs": runs}))


def _backend_version() -> str:
    import keras

    backend = keras.backend.backend()
    module = __import__("tensorflow" if backend == "tensorflow" else backend)
    return getattr(module, "__version__", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--keras-python", action="append", default=[], help="a Python with Keras (repeatable)"
    )
    parser.add_argument("--keras-worker", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.keras_worker:
        keras_worker(args.keras_worker, args.repeats)
        return
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from results_doc import replace_section

    torch.set_num_threads(1)
    pythons = " ".join(f"--keras-python {p}" for p in args.keras_python)
    labels, rows = {}, []
    for name, shape in SHAPES.items():
        x, y = data(shape)
        torch_fit(shape, x, y, 0), seqsuite_fit(shape, x, y, 0)  # warm-up
        pairs = [
            (torch_fit(shape, x, y, s), seqsuite_fit(shape, x, y, s)) for s in range(args.repeats)
        ]
        keras = []
        for python in args.keras_python:
            labels[python], runs = keras_runs(python, name, args.repeats)
            keras.append(runs)
        hand = statistics.median(h[0] for h, _ in pairs)
        ours = statistics.median(o[0] for _, o in pairs)
        ratio = statistics.median(o[0] / h[0] for h, o in pairs)
        mses = [
            statistics.median(h[1] for h, _ in pairs),
            statistics.median(o[1] for _, o in pairs),
        ]
        mses += [statistics.median(m for _, m in runs) for runs in keras]
        rows.append(
            f"| {name}: {shape['n']} x {shape['steps']} x {shape['features']}, LSTM({shape['units']}, "
            f"{shape['activation']}), {shape['epochs']} epochs, batch {shape['batch']} | {hand:.2f} | {ours:.2f} | "
            f"**{ratio:.2f}×** | "
            + "".join(f"{statistics.median(t for t, _ in runs):.2f} | " for runs in keras)
            + " / ".join(f"{m:.2e}" for m in mses)
            + " |"
        )
        print(rows[-1], flush=True)
    names = [labels[p] for p in args.keras_python]
    lines = [
        f"Command: `OMP_NUM_THREADS=1 python bench/keras_compare.py --repeats {args.repeats} {pythons} --write` "
        f"(PyTorch {torch.__version__}, 1 thread everywhere, load average {os.getloadavg()[0]:.1f} at the end)",
        "",
        "| shape | hand-written PyTorch (fused tanh), s | seqsuite, s | seqsuite / hand-written (median of interleaved pairs) | "
        + "".join(f"{n}, s | " for n in names)
        + "final MSE: PyTorch / seqsuite"
        + "".join(f" / {n}" for n in names)
        + " |",
        "|---|---|---|---|" + "---|" * len(names) + "---|",
        *rows,
    ]
    lines += [
        "",
        "The hand-written loop has no relu LSTM (PyTorch's kernels hard-code tanh), so on the "
        "tutorial's shape it runs tanh: the ratio is what the free activation costs, Trainer included.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("keras-compare", text)


if __name__ == "__main__":
    main()
