"""One LSTM or GRU step in numpy: what :class:`~seqsuite.stepping.NumpyStepper` runs on CPU.

Why numpy: a generation step at batch 1 is a few matrix-vector products, and their speed
is the speed of the BLAS behind them. On the machines measured, PyTorch's (MKL) ran them
1.5-2x slower than numpy's OpenBLAS (2048 x 512: 114 against 78 us on one thread, on an
AMD CPU), and each numpy call costs about a microsecond of
dispatch against several for an ATen call from Python. The equations are PyTorch's, in
its gate order (LSTM: input, forget, cell, output; GRU: reset, update, new); only the
order of the floating-point sums differs (results agree to about 1e-7).

``gates_in`` is a layer's input projection ``x W_ih^T`` plus its bias (batch, gates x
hidden); weights are passed transposed, (hidden, gates x hidden), so a product is ``h @ w_hh_t``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit  # a logistic sigmoid that does not overflow in float32


def lstm_cell(
    gates_in: np.ndarray, h: np.ndarray, c: np.ndarray, w_hh_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The next (h, c) of an LSTM layer (``gates_in`` holds both of its biases)."""
    gates = h @ w_hh_t
    gates += gates_in
    size = h.shape[1]
    sig = expit(gates)  # the cell gate's share is not used: one call beats two slices
    c = sig[:, size : 2 * size] * c
    c += sig[:, :size] * np.tanh(gates[:, 2 * size : 3 * size])
    return sig[:, 3 * size :] * np.tanh(c), c


def gru_cell(
    gates_in: np.ndarray, h: np.ndarray, w_hh_t: np.ndarray, b_hh: np.ndarray
) -> np.ndarray:
    """The next h of a GRU layer (``gates_in`` holds ``b_ih``; ``b_hh`` is apart because
    the reset gate multiplies its share of the new gate)."""
    hidden = h @ w_hh_t
    hidden += b_hh
    size = h.shape[1]
    reset_update = expit(gates_in[:, : 2 * size] + hidden[:, : 2 * size])
    new = np.tanh(gates_in[:, 2 * size :] + reset_update[:, :size] * hidden[:, 2 * size :])
    return new + reset_update[:, size:] * (h - new)


def project(x: np.ndarray, w_t: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x W^T + b`` (a layer's input projection, or the head)."""
    out = x @ w_t
    if b is not None:
        out += b
    return out
