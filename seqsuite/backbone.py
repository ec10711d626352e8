"""The shared recurrent backbone: one configuration, every task.

Read top to bottom: :class:`BackboneConfig` fully determines the module, then
:class:`BackboneOutput` says what every task gets back, then :class:`Backbone`.

The parameters always live in a PyTorch ``nn.LSTM`` / ``nn.GRU``. With
``activation="tanh"`` the fused kernel runs (oneDNN on CPU, cuDNN on GPU); any other
activation runs :func:`seqsuite.cells.run_rnn` on the *same* parameters, so weights
move freely between the two paths and between runs (``--init-from``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cells import run_rnn
from .errors import UserError

State = Tensor | tuple[Tensor, Tensor]

#: a backbone larger than this is a typo, not a model (it would not fit in memory)
MAX_PARAMETERS = 500_000_000


@dataclass
class BackboneConfig:
    """The ``[backbone]`` section."""

    cell: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = field(
        default=64, metadata={"min": 1, "max": 16384, "help": "units per layer"}
    )
    num_layers: int = field(default=1, metadata={"min": 1, "max": 64})
    dropout: float = field(
        default=0.0, metadata={"min": 0.0, "below": 1.0, "help": "between stacked layers"}
    )
    bidirectional: bool = False
    proj_size: int = field(default=0, metadata={"min": 0, "help": "LSTM projection (0 = none)"})
    activation: Literal[
        "tanh",
        "relu",
        "gelu",
        "silu",
        "elu",
        "leaky_relu",
        "softsign",
        "sigmoid",
        "hardtanh",
        "linear",
    ] = field(default="tanh", metadata={"help": "tanh runs the fused kernel; others a custom cell"})
    init: Literal["pytorch", "keras"] = field(
        default="pytorch",
        metadata={"help": "keras: Glorot input, orthogonal recurrent weights, forget bias 1"},
    )

    def validate(self) -> None:
        if self.proj_size and self.cell != "lstm":
            raise UserError("proj_size: a projection exists only for cell = 'lstm'")
        if self.proj_size >= self.hidden_size:
            raise UserError(
                f"proj_size: got {self.proj_size}, expected less than hidden_size ({self.hidden_size})"
            )
        gates = 4 if self.cell == "lstm" else 3
        dirs = 2 if self.bidirectional else 1
        per_layer = dirs * gates * self.hidden_size * (self.output_size + self.hidden_size)
        if per_layer * self.num_layers > MAX_PARAMETERS:
            raise UserError(
                f"hidden_size {self.hidden_size} x num_layers {self.num_layers}: about "
                f"{per_layer * self.num_layers / 1e6:,.0f} M parameters, over the "
                f"{MAX_PARAMETERS / 1e6:,.0f} M a backbone may have"
            )

    @property
    def output_size(self) -> int:
        """Features per time step that the backbone hands to a head."""
        return (self.proj_size or self.hidden_size) * (2 if self.bidirectional else 1)


@dataclass
class BackboneOutput:
    """What a head receives.

    sequence: (batch, time, output_size), zeros on padding.
    last:     (batch, output_size): the final state of each sequence (forward direction
              at its last real step, backward direction at its first), top layer.
    state:    the recurrent state in nn.LSTM's / nn.GRU's layout, to carry into the next
              call (stateful generation, truncated back-propagation through time).
    """

    sequence: Tensor
    last: Tensor
    state: State


class Backbone(nn.Module):
    """LSTM or GRU stack over inputs (batch, time, input_size)."""

    def __init__(self, input_size: int, config: BackboneConfig):
        super().__init__()
        self.config = config
        self.input_size = input_size
        rnn_class = nn.LSTM if config.cell == "lstm" else nn.GRU
        extra = {"proj_size": config.proj_size} if config.cell == "lstm" else {}
        self.rnn = rnn_class(
            input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
            **extra,
        )
        if config.init == "keras":
            self._keras_init()

    @property
    def output_size(self) -> int:
        return self.config.output_size

    @property
    def fused(self) -> bool:
        return self.config.activation == "tanh"

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> BackboneOutput:
        """x: (batch, time, input_size); lengths: (batch,) on CPU, or None if no padding."""
        if lengths is not None and int(lengths.min()) == x.size(1):
            lengths = None  # nothing is padded: skip packing
        if state is not None:  # cuDNN refuses a strided state ("hx is not contiguous")
            state = contiguous(state)
        if not self.fused:
            sequence, state = run_rnn(self.rnn, x, lengths, state, self.config.activation)
        elif lengths is None:
            sequence, state = self.rnn(x, state)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed, state)
            sequence, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        h_n = state[0] if isinstance(state, tuple) else state
        dirs = 2 if self.config.bidirectional else 1
        top = h_n.view(self.config.num_layers, dirs, *h_n.shape[1:])[-1]  # (dirs, batch, out)
        last = top.transpose(0, 1).reshape(x.size(0), -1)
        return BackboneOutput(sequence=sequence, last=last, state=state)

    def flops_per_timestep(self) -> float:
        """Forward FLOPs per sample and time step (matrix products only, 2 per multiply-add).

        LSTM: 8·H·(I+P) per layer and direction (4 gates), plus 2·H·P for a projection;
        GRU: 6·H·(I+H). Training costs about 3x this (forward + backward).
        """
        c = self.config
        gates = 4 if c.cell == "lstm" else 3
        out = c.proj_size or c.hidden_size
        dirs = 2 if c.bidirectional else 1
        total, inp = 0.0, self.input_size
        for _ in range(c.num_layers):
            per_dir = 2 * gates * c.hidden_size * (inp + out)
            if c.proj_size:
                per_dir += 2 * c.hidden_size * c.proj_size
            total += dirs * per_dir
            inp = out * dirs
        return total

    def _keras_init(self) -> None:
        """Keras' defaults: Glorot-uniform input kernel, orthogonal recurrent kernel,
        zero biases with the LSTM forget gate's bias at 1 (``unit_forget_bias``)."""
        gates = 4 if self.config.cell == "lstm" else 3
        hidden = self.config.hidden_size
        for name, param in self.rnn.named_parameters():
            with torch.no_grad():
                if name.startswith("weight_ih"):
                    fan_in, fan_out = param.shape[1], param.shape[0]
                    bound = math.sqrt(6.0 / (fan_in + fan_out))
                    param.uniform_(-bound, bound)
                elif name.startswith("weight_hh"):
                    for block in param.split(hidden, dim=0):
                        nn.init.orthogonal_(block)
                    if param.shape[0] != gates * hidden:  # pragma: no cover - defensive
                        raise AssertionError(name)
                elif name.startswith("weight_hr"):
                    nn.init.orthogonal_(param)
                elif name.startswith("bias"):
                    param.zero_()
                    if self.config.cell == "lstm" and name.startswith("bias_ih"):
                        param[hidden : 2 * hidden] = 1.0


def contiguous(state: State) -> State:
    """``state`` laid out densely: a carried state is often a slice or a transpose of one
    (streams kept, reordered or split across processes), which CPU kernels accept and
    cuDNN's LSTM and GRU refuse."""
    if isinstance(state, tuple):
        return tuple(part.contiguous() for part in state)
    return state.contiguous()
