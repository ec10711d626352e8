"""Recurrences with a free activation function, on ``nn.LSTM`` / ``nn.GRU`` weights.

PyTorch's fused kernels hard-code ``tanh``. Keras' ``LSTM(activation="relu")`` applies
the activation to the candidate and to the cell output; the gates keep their sigmoid.
These functions compute exactly that, reading the parameters of an ``nn.LSTM`` or
``nn.GRU`` module (same names, same gate order), so a model can switch between the
fused path and this one without changing its weights. With ``activation=tanh`` the
result equals the fused kernel's (a test checks it).

Speed: the input projection of a whole sequence is one matrix product; only the
recurrent product and the element-wise gate maths run per time step. For LSTM layers
without projection and an activation whose derivative is known (:data:`DERIVATIVES`),
:class:`LSTMRecurrence` runs the time loop outside autograd and back-propagates through
time with hand-derived gradients (checked against autograd by ``gradcheck``): autograd's
per-step bookkeeping, not the arithmetic, is what makes a Python loop slow.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .batches import padding_mask

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "leaky_relu": F.leaky_relu,
    "softsign": F.softsign,
    "sigmoid": torch.sigmoid,
    "hardtanh": F.hardtanh,
    "linear": lambda x: x,
}


# d act(x) / dx from x and y = act(x): what the hand-written backward pass needs.
DERIVATIVES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "tanh": lambda x, y: 1 - y * y,
    "relu": lambda x, y: (x > 0).to(x.dtype),
    "sigmoid": lambda x, y: y * (1 - y),
    "linear": lambda x, y: torch.ones_like(x),
    "hardtanh": lambda x, y: ((x > -1) & (x < 1)).to(x.dtype),
    "softsign": lambda x, y: (1 - y.abs()) ** 2,
    "elu": lambda x, y: torch.where(x > 0, torch.ones_like(x), y + 1),
}


class LSTMRecurrence(torch.autograd.Function):
    """The recurrent part of one LSTM layer: gates_x (batch, time, 4H) already holds the
    input projection and both biases. Returns outputs (batch, time, H) and the final h, c.
    ``mask`` (batch, time) float, 0 on padding: the state is held and the output is 0.

    The forward loop keeps only each step's gate pre-activations and new cell; the
    backward pass turns those into per-step coefficients in a few whole-sequence
    operations, so its time loop is a handful of element-wise products and one matmul."""

    @staticmethod
    def forward(ctx, gates_x, h0, c0, w_hh, mask, activation: str):  # noqa: PLR0913
        act = ACTIVATIONS[activation]
        batch, steps, four = gates_x.shape
        size = four // 4
        w_t = w_hh.t()
        out = gates_x.new_empty(batch, steps, size)
        pre = gates_x.new_empty(batch, steps, four)  # gate pre-activations
        c_new = gates_x.new_empty(batch, steps, size)
        held = None if mask is None else gates_x.new_empty(2, batch, steps + 1, size)
        h, c = h0, c0
        for t in range(steps):
            gates = torch.addmm(gates_x[:, t], h, w_t)
            pre[:, t] = gates
            s = torch.sigmoid(gates)
            cn = torch.addcmul(
                s[:, size : 2 * size] * c, s[:, :size], act(gates[:, 2 * size : 3 * size])
            )
            c_new[:, t] = cn
            hn = s[:, 3 * size :] * act(cn)
            if mask is None:
                h, c = hn, cn
                out[:, t] = hn
            else:
                held[0, :, t], held[1, :, t] = h, c
                m = mask[:, t : t + 1]
                h, c = torch.lerp(h, hn, m), torch.lerp(c, cn, m)
                out[:, t] = hn * m
        if held is not None:
            held[0, :, steps], held[1, :, steps] = h, c
        ctx.save_for_backward(pre, c_new, out, h0, c0, w_hh, mask, held)
        ctx.activation = activation
        return out, h, c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_h, d_c):
        pre, c_new, out, h0, c0, w_hh, mask, held = ctx.saved_tensors
        act, derivative = ACTIVATIONS[ctx.activation], DERIVATIVES[ctx.activation]
        batch, steps, size = c_new.shape
        # the state each step started from
        if held is None:
            h_prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], 1)
            c_prev = torch.cat([c0.unsqueeze(1), c_new[:, :-1]], 1)
        else:
            h_prev, c_prev = held[0, :, :-1], held[1, :, :-1]
        # whole-sequence coefficients: d gates = (dc * [i, f, g], dh * o) coefficients
        s = torch.sigmoid(pre).view(batch, steps, 4, size)
        si, sf, so = s[:, :, 0], s[:, :, 1], s[:, :, 3]
        g = pre.view(batch, steps, 4, size)[:, :, 2]
        ag, ac = act(g), act(c_new)
        by_dc = torch.stack(
            [ag * si * (1 - si), c_prev * sf * (1 - sf), si * derivative(g, ag)], dim=2
        )
        by_dh = ac * so * (1 - so)
        c_from_h = so * derivative(c_new, ac)
        d_gates = pre.new_empty(batch, steps, 4, size)
        dh = d_h.clone() if d_h is not None else pre.new_zeros(batch, size)
        dc = d_c.clone() if d_c is not None else pre.new_zeros(batch, size)
        for t in range(steps - 1, -1, -1):
            if mask is None:
                dh = dh + d_out[:, t]
            else:  # a padded step held the state: its gradient passes straight through
                m = mask[:, t : t + 1]
                dh_held, dc_held = dh * (1 - m), dc * (1 - m)
                dh, dc = (dh + d_out[:, t]) * m, dc * m
            dc = torch.addcmul(dc, dh, c_from_h[:, t])
            torch.mul(dc.unsqueeze(1), by_dc[:, t], out=d_gates[:, t, :3])
            torch.mul(dh, by_dh[:, t], out=d_gates[:, t, 3])
            dc = dc * sf[:, t]
            dh = d_gates[:, t].view(batch, 4 * size) @ w_hh
            if mask is not None:
                dh, dc = dh + dh_held, dc + dc_held
        d_gates = d_gates.view(batch, steps, 4 * size)
        d_w = d_gates.reshape(-1, 4 * size).t() @ h_prev.reshape(-1, size)
        return d_gates, dh, dc, d_w, None, None


def lstm_layer(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    activation: str,
    mask: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer in one direction.

    x: (batch, time, input); h: (batch, out) with out = proj or hidden; c: (batch, hidden);
    mask: (batch, time) bool, False on padding (state is held, output is zero there).
    Returns outputs (batch, time, out), final h, final c.
    """
    gates_x = F.linear(x, w_ih, b_ih)
    if b_hh is not None:
        gates_x = gates_x + b_hh
    autocast = torch.is_autocast_enabled(x.device.type)
    if w_hr is None and activation in DERIVATIVES and not autocast:
        weights = None if mask is None else mask.to(gates_x.dtype)
        return LSTMRecurrence.apply(gates_x, h, c, w_hh, weights, activation)
    act = ACTIVATIONS[activation]
    outputs = []
    for t in range(x.size(1)):
        gates = gates_x[:, t] + h @ w_hh.t()
        i, f, g, o = gates.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
        h_new = torch.sigmoid(o) * act(c_new)
        if w_hr is not None:
            h_new = h_new @ w_hr.t()
        if mask is not None:
            m = mask[:, t : t + 1]
            c = torch.where(m, c_new, c)
            h = torch.where(m, h_new, h)
            outputs.append(h_new * m)
        else:
            c, h = c_new, h_new
            outputs.append(h_new)
    return torch.stack(outputs, dim=1), h, c


def gru_layer(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    act: Callable[[Tensor], Tensor],
    mask: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """One GRU layer in one direction (PyTorch's formulation: reset gate after ``W_hn h``)."""
    gx = F.linear(x, w_ih, b_ih)
    outputs = []
    for t in range(x.size(1)):
        gh = F.linear(h, w_hh, b_hh)
        xr, xz, xn = gx[:, t].chunk(3, dim=1)
        hr, hz, hn = gh.chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = act(xn + r * hn)
        h_new = (1 - z) * n + z * h
        if mask is not None:
            m = mask[:, t : t + 1]
            h = torch.where(m, h_new, h)
            outputs.append(h_new * m)
        else:
            h = h_new
            outputs.append(h_new)
    return torch.stack(outputs, dim=1), h


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its own length; padding stays where it is."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def run_rnn(
    rnn: nn.LSTM | nn.GRU,
    x: Tensor,
    lengths: Tensor | None,
    state: Tensor | tuple[Tensor, Tensor] | None,
    activation: str,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """Run ``rnn``'s weights with ``activation``; same inputs and outputs as ``rnn(x, state)``.

    x: (batch, time, input), batch first. ``lengths`` (batch,) marks padding.
    Returns outputs (batch, time, dirs*out) with zeros on padding, and the final state in
    nn.LSTM's / nn.GRU's layout ((layers*dirs, batch, out)[, (layers*dirs, batch, hidden)]).
    """
    act = ACTIVATIONS[activation]
    is_lstm = isinstance(rnn, nn.LSTM)
    dirs = 2 if rnn.bidirectional else 1
    batch = x.size(0)
    hidden = rnn.hidden_size
    out_size = rnn.proj_size if is_lstm and rnn.proj_size > 0 else hidden
    if state is None:
        zeros_h = x.new_zeros(rnn.num_layers * dirs, batch, out_size)
        state = (zeros_h, x.new_zeros(rnn.num_layers * dirs, batch, hidden)) if is_lstm else zeros_h
    h0, c0 = state if is_lstm else (state, None)
    mask = None
    if lengths is not None:
        mask = padding_mask(lengths, x.size(1), x.device)

    layer_input = x
    final_h, final_c = [], []
    for layer in range(rnn.num_layers):
        direction_outputs = []
        for direction in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            k = layer * dirs + direction
            w_ih = getattr(rnn, "weight_ih" + suffix)
            w_hh = getattr(rnn, "weight_hh" + suffix)
            b_ih = getattr(rnn, "bias_ih" + suffix) if rnn.bias else None
            b_hh = getattr(rnn, "bias_hh" + suffix) if rnn.bias else None
            seq = reverse_padded(layer_input, lengths) if direction else layer_input
            if is_lstm:
                w_hr = getattr(rnn, "weight_hr" + suffix) if rnn.proj_size > 0 else None
                out, h, c = lstm_layer(
                    seq, h0[k], c0[k], w_ih, w_hh, b_ih, b_hh, w_hr, activation, mask
                )
                final_c.append(c)
            else:
                out, h = gru_layer(seq, h0[k], w_ih, w_hh, b_ih, b_hh, act, mask)
            final_h.append(h)
            direction_outputs.append(reverse_padded(out, lengths) if direction else out)
        layer_input = torch.cat(direction_outputs, dim=2) if dirs == 2 else direction_outputs[0]
        if rnn.dropout > 0 and rnn.training and layer < rnn.num_layers - 1:
            layer_input = F.dropout(layer_input, rnn.dropout, training=True)
    h_n = torch.stack(final_h)
    return layer_input, ((h_n, torch.stack(final_c)) if is_lstm else h_n)
