"""Stepping a trained model one time step at a time: what generation and streaming need.

Generation feeds a model one token (or frame) at a time with the recurrent state carried.
Through :meth:`SequenceModel.forward` each step costs far more than its arithmetic: a
batch dict, the adapter, a fresh oneDNN LSTM call (on CPU its set-up per call is most of
a step), :class:`~seqsuite.backbone.BackboneOutput`, the head. :class:`FastStepper` reads
the weights once and runs a step as a handful of ATen calls in inference mode:

- token inputs: the first layer's input projection ``W_ih x + b_ih`` of every token is
  computed once (one matrix product) and looked up, so a step reads only the recurrent
  weights of the first layer;
- each layer: ``torch.lstm_cell`` / ``torch.gru_cell``, the kernels PyTorch's own
  non-oneDNN LSTM runs (same gate order, same sums: bit for bit its result);
- the head's linear layer.

A short prompt (up to :data:`PRIME_STEPS` steps) is read by the same steps from a zero
state: on CPU one call of oneDNN's LSTM costs milliseconds to set up (it lays the weights
out anew), more than several steps, and it is paid before the first token a server sends.
A longer prompt is read by the model itself (one call). oneDNN's LSTM and these cells
differ in the last bits of a float (about 1e-7); the samples drawn with the same seed are
the same (``tests/test_stepping.py`` checks it against :class:`ModelStepper`, the path
generation took before, kept for that test and for ``bench/performance.py``).

On CPU, :class:`NumpyStepper` runs the same steps in numpy (:mod:`.numpy_cells`): numpy's
BLAS did these matrix-vector products 1.5-2x faster than PyTorch's on the machines
measured, and a numpy call costs less dispatch than an ATen one. Its sums run in another
order (about 1e-7 apart); the samples are checked the same way.

A model the fast path does not cover (another adapter or head, a projection, a custom
activation, a bidirectional backbone) gets :class:`ModelStepper`: same results, slower.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import numpy_cells
from .adapters import FeatureInput, TokenInput
from .heads import StepHead
from .model import SequenceModel

#: the first layer's per-token input projections are precomputed up to this many bytes
TABLE_BYTES = 32 * 2**20
#: prompts up to this many steps are read by the fast steps, longer ones by the model's
#: forward (where the two cross depends on the model: about 30 steps at 2 x 512, about 5 at
#: 2 x 256; ``bench/performance.py --only generation``)
PRIME_STEPS = 8


class Stepper(Protocol):
    """Reads a prompt, then one step at a time; logits of the last step each time."""

    def prime(self, batch: dict[str, Tensor]) -> Tensor:
        """Read ``batch`` (a prompt: (batch, time) ids or (batch, time, features)) with a
        fresh state; the logits after its last step (batch, outputs)."""
        ...

    def step(self, inputs: Tensor) -> Tensor:
        """One step: ids (batch,) or features (batch, features) -> logits (batch, outputs)."""
        ...


class ModelStepper:
    """Every step through ``model(batch, state)``: any model, the path taken before."""

    def __init__(self, model: nn.Module, key: str = "tokens"):
        self.model = model.eval()
        self.key = key
        self.state: Any = None

    @torch.inference_mode()
    def prime(self, batch: dict[str, Tensor]) -> Tensor:
        logits, self.state = self.model(batch)
        return logits[:, -1]

    @torch.inference_mode()
    def step(self, inputs: Tensor) -> Tensor:
        logits, self.state = self.model({self.key: inputs.unsqueeze(1)}, self.state)
        return logits[:, -1]


class FastStepper:
    """Adapter + backbone + head of a :class:`SequenceModel` as direct cell calls."""

    def __init__(self, model: SequenceModel):
        self.model = model.eval()
        rnn = model.backbone.rnn
        self.lstm = isinstance(rnn, nn.LSTM)
        self.cell = torch.lstm_cell if self.lstm else torch.gru_cell
        self.layers = [
            [getattr(rnn, f"{name}_l{k}", None) for name in _WEIGHTS] for k in range(rnn.num_layers)
        ]
        self.head = model.head.linear
        adapter = model.adapter
        self.embedding = adapter.embedding.weight if isinstance(adapter, TokenInput) else None
        self.project = None if self.embedding is not None else adapter.proj
        self.table = self._input_table() if self._table_helps() else None
        # an empty input with a (gates x hidden, 0) weight: the input projection is the bias
        self.no_weight = self.layers[0][1].new_zeros(self.layers[0][1].shape[0], 0)
        self.h: list[Tensor] = []
        self.c: list[Tensor] = []

    @staticmethod
    def supports(model: nn.Module) -> bool:
        """Whether the fast path reproduces ``model``'s steps (see the module docstring)."""
        if not isinstance(model, SequenceModel):
            return False
        config = model.backbone.config
        return (
            type(model.adapter) in (TokenInput, FeatureInput)
            and type(model.head) is StepHead
            and config.activation == "tanh"
            and not config.bidirectional
            and not config.proj_size
        )

    def _table_helps(self) -> bool:
        """A per-token input table for a token model on CPU. On CUDA the fused cell kernels
        take only one bias row for the whole batch (the looked-up rows are per sample), and
        the input product they would save costs a GPU nothing next to a kernel launch."""
        return self.embedding is not None and self.embedding.device.type == "cpu"

    def _table_fits(self) -> bool:
        """Whether the per-token input table takes at most :data:`TABLE_BYTES`."""
        w_ih = self.layers[0][0]
        return self.embedding.shape[0] * w_ih.shape[0] * w_ih.element_size() <= TABLE_BYTES

    @torch.inference_mode()
    def _input_table(self) -> Tensor | None:
        """(vocab, gates x hidden): ``W_ih e + b_ih`` of each token's embedding ``e``; None
        if it would take more than :data:`TABLE_BYTES`."""
        w_ih, _, b_ih, _ = self.layers[0]
        return F.linear(self.embedding, w_ih, b_ih) if self._table_fits() else None

    @torch.inference_mode()
    def prime(self, batch: dict[str, Tensor]) -> Tensor:
        inputs = next(iter(batch.values())) if len(batch) == 1 else None
        if inputs is not None and 0 < inputs.shape[1] <= PRIME_STEPS:
            return self._prime_by_steps(inputs)
        logits, state = self.model(batch)
        h, c = state if self.lstm else (state, None)
        self._take_state(list(h.unbind(0)), list(c.unbind(0)) if c is not None else [])
        return logits[:, -1]

    def _take_state(self, h: list[Tensor], c: list[Tensor]) -> None:
        """Carry on from these per-layer states (batch, hidden) (``c`` empty for a GRU)."""
        self.h, self.c = h, c

    def _prime_by_steps(self, inputs: Tensor) -> Tensor:
        """Read (batch, time[, features]) ``inputs`` step by step from a zero state."""
        rnn = self.model.backbone.rnn
        zeros = self.layers[0][1].new_zeros(inputs.shape[0], rnn.hidden_size)
        self._take_state([zeros] * rnn.num_layers, [zeros] * rnn.num_layers if self.lstm else [])
        for t in range(inputs.shape[1]):
            logits = self.step(inputs[:, t])
        return logits

    @torch.inference_mode()
    def step(self, inputs: Tensor) -> Tensor:
        """ids (batch,) or features (batch, features) -> logits (batch, outputs)."""
        for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layers):
            if k == 0 and self.table is not None:
                # the input projection was precomputed: an empty input leaves lstm_cell's
                # W_ih x + b_ih as exactly the bias, which is the looked-up row
                x, w_ih, b_ih = (
                    self.no_weight.new_zeros(len(inputs), 0),
                    self.no_weight,
                    self.table[inputs],
                )
            elif k == 0:
                x = self.embedding[inputs] if self.embedding is not None else self.project(inputs)
            else:
                x = self.h[k - 1]
            if self.lstm:
                self.h[k], self.c[k] = self.cell(x, (self.h[k], self.c[k]), w_ih, w_hh, b_ih, b_hh)
            else:
                self.h[k] = self.cell(x, self.h[k], w_ih, w_hh, b_ih, b_hh)
        return self.head(self.h[-1])


class NumpyStepper(FastStepper):
    """:class:`FastStepper`'s steps with the arithmetic in numpy (:mod:`.numpy_cells`):
    the fast path on CPU. The state is kept as numpy arrays; logits come back as tensors.

    Each layer's two biases are added once, into its input projection (the token table's
    rows for the first layer). The products run in numpy's BLAS, which has a thread pool
    of its own: a stepper sets that pool to PyTorch's intra-op thread count when it is
    made, so that seqsuite's thread choice (:mod:`.threads`) holds for them too."""

    def __init__(self, model: SequenceModel):
        super().__init__(model)
        _match_blas_threads(torch.get_num_threads())
        self.arrays = [_layer_arrays(self.lstm, *layer) for layer in self.layers]
        self.embedding_array = _array(self.embedding)
        self.table = self._numpy_table()
        proj = self.project if isinstance(self.project, nn.Linear) else None
        self.project_arrays = (_array(proj.weight).T, _array(proj.bias)) if proj else None
        self.head_arrays = (_array(self.head.weight).T, _array(self.head.bias))

    def _input_table(self) -> None:
        """None: this stepper makes its own table from its arrays (:meth:`_numpy_table`)."""
        return None

    def _numpy_table(self) -> np.ndarray | None:
        """FastStepper's table as a numpy array, with the first layer's input bias (both
        biases for an LSTM) added."""
        if self.embedding is None or not self._table_fits():
            return None
        w_ih_t, _, b_in, _ = self.arrays[0]
        return numpy_cells.project(self.embedding_array, w_ih_t, b_in)

    @staticmethod
    def supports(model: nn.Module) -> bool:
        """FastStepper's models whose parameters are float32 tensors on the CPU."""
        return FastStepper.supports(model) and all(
            p.device.type == "cpu" and p.dtype == torch.float32 for p in model.parameters()
        )

    def _take_state(self, h: list[Tensor], c: list[Tensor]) -> None:
        self.h = [s.numpy(force=True).copy() for s in h]
        self.c = [s.numpy(force=True).copy() for s in c]

    def step(self, inputs: Tensor) -> Tensor:
        """ids (batch,) or features (batch, features) -> logits (batch, outputs)."""
        for k, (w_ih_t, w_hh_t, b_in, b_hh) in enumerate(self.arrays):
            if k == 0 and self.table is not None:
                gates_in = self.table[inputs.numpy()]
            else:
                x = self._first_input(inputs.numpy()) if k == 0 else self.h[k - 1]
                gates_in = numpy_cells.project(x, w_ih_t, b_in)
            if self.lstm:
                self.h[k], self.c[k] = numpy_cells.lstm_cell(gates_in, self.h[k], self.c[k], w_hh_t)
            else:
                self.h[k] = numpy_cells.gru_cell(gates_in, self.h[k], w_hh_t, b_hh)
        return torch.from_numpy(numpy_cells.project(self.h[-1], *self.head_arrays))

    def _first_input(self, inputs: np.ndarray) -> np.ndarray:
        """The adapter's output for one step: embeddings of ids, or projected features."""
        if self.embedding_array is not None:
            return self.embedding_array[inputs]
        if self.project_arrays is not None:
            return numpy_cells.project(inputs, *self.project_arrays)
        return inputs


def _array(tensor: Tensor | None) -> np.ndarray | None:
    """A parameter's values as a numpy array sharing its memory (None stays None)."""
    return None if tensor is None else tensor.detach().numpy()


def _layer_arrays(
    lstm: bool, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(weight_ih^T, weight_hh^T, input bias, recurrent bias): transposed views of the
    weights (``x @ w_t`` is one BLAS call either way). An LSTM's two biases enter its gates
    as one sum, so its input bias is ``b_ih + b_hh`` and the other None; a GRU's new gate
    multiplies ``b_hh`` by the reset gate, so it keeps both. A missing bias is zeros."""
    zeros = np.zeros(w_hh.shape[0], dtype=np.float32)
    b_ih = zeros if b_ih is None else _array(b_ih)
    b_hh = zeros if b_hh is None else _array(b_hh)
    if lstm:
        return _array(w_ih).T, _array(w_hh).T, b_ih + b_hh, None
    return _array(w_ih).T, _array(w_hh).T, b_ih, b_hh


_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _match_blas_threads(count: int) -> None:
    """numpy's BLAS threads := ``count`` (a no-op where threadpoolctl finds no BLAS pool it
    can set)."""
    pools = _blas_pools()
    if any(info.get("num_threads") != count for info in pools.info()):
        pools.limit(limits=count)


@functools.cache
def _blas_pools() -> Any:
    """The BLAS thread pools loaded in this process (threadpoolctl scans the loaded
    libraries: milliseconds, so once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


#: the fast path on CPU steps in numpy (:class:`NumpyStepper`); False keeps PyTorch's cells
#: (:class:`FastStepper`), as ``bench/performance.py`` does to compare the two
NUMPY_STEPS = True


def stepper(model: nn.Module, *, fast: bool = True, key: str = "tokens") -> Stepper:
    """The fastest stepper that gives ``model``'s results; ``fast=False`` forces the model's
    own forward (the path before :class:`FastStepper`, for comparisons)."""
    if fast and NUMPY_STEPS and NumpyStepper.supports(model):
        return NumpyStepper(model)
    if fast and FastStepper.supports(model):
        return FastStepper(model)
    return ModelStepper(model, key)
