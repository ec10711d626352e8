"""``seqsuite export``: a trained model (input adapter + backbone + head) for serving.

The exported graph takes plain tensors: the task's inputs (e.g. ``tokens`` (batch, time)
or ``x`` (batch, time, features)) and the recurrent state (``h0``, and ``c0`` for an LSTM;
zeros to start), and returns the task's output and the new state, so a generation loop
can carry the state forward. Batch size and sequence length are free (dynamic axes).

What does not export: packed sequences (the exported model reads each batch without
``lengths``: give it one sequence, or sequences of equal length) and the custom-activation
cells (their Python loop over time would be frozen at one length), which are refused.
A JSON file beside the model lists the inputs and outputs and the run's saved state
(vocabulary, classes, scaling) needed to prepare inputs.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import atomic
from .errors import UserError, install_extra


class Exported(nn.Module):
    """Tensor-only front of a :class:`~seqsuite.model.SequenceModel`."""

    def __init__(self, model: nn.Module, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = input_names
        self.lstm = model.backbone.config.cell == "lstm"

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        n = len(self.input_names)
        batch = dict(zip(self.input_names, args[:n], strict=True))
        state = (args[n], args[n + 1]) if self.lstm else args[n]
        output, new_state = self.model(batch, state)
        return (output, *new_state) if self.lstm else (output, new_state)


def example_inputs(
    model: nn.Module, task: Any, ctx: Any, spec: dict[str, Any]
) -> dict[str, Tensor]:
    """The task's own ``export_inputs``, or inputs made from a shared adapter
    (:class:`~seqsuite.adapters.TokenInput`, :class:`~seqsuite.adapters.FeatureInput`)."""
    from .adapters import FeatureInput, TokenInput
    from .assembly import PluginError

    custom = task.export_inputs(ctx, spec)
    if custom is not None:
        return custom
    adapter = model.adapter
    if isinstance(adapter, TokenInput):
        return {adapter.key: torch.randint(2, adapter.embedding.num_embeddings, (2, 5))}
    if isinstance(adapter, FeatureInput):
        return {adapter.key: torch.randn(2, 5, adapter.in_features)}
    raise PluginError(
        f"task {task.name!r}: its input adapter {type(adapter).__name__} is not a shared one, "
        "so the task must define export_inputs()"
    )


def state_shape(model: nn.Module, batch: int) -> list[tuple[int, ...]]:
    c = model.backbone.config
    layers = c.num_layers * (2 if c.bidirectional else 1)
    h = (layers, batch, c.proj_size or c.hidden_size)
    return [h, (layers, batch, c.hidden_size)] if c.cell == "lstm" else [h]


def export(
    model: nn.Module, task: Any, ctx: Any, spec: dict[str, Any], fmt: str, out: Path
) -> dict[str, Any]:
    """Write the model to ``out`` (ONNX or TorchScript) and a description beside it."""
    if model.backbone.config.activation != "tanh":
        raise UserError(
            f"export: backbone.activation={model.backbone.config.activation!r} runs a Python loop over time that "
            "cannot be exported for every length; only the fused tanh path exports"
        )
    model = model.cpu().eval()
    inputs = example_inputs(model, task, ctx, spec)
    batch = next(iter(inputs.values())).shape[0]
    states = [torch.zeros(shape) for shape in state_shape(model, batch)]
    state_names = ["h0", "c0"][: len(states)]
    output_names = ["output", *["h", "c"][: len(states)]]
    wrapper = Exported(model, list(inputs)).eval()
    args = (*inputs.values(), *states)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(wrapper, args, check_trace=False)
        buffer = _saved(traced)
        atomic.write_bytes(out, buffer)
    elif fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UserError(
                f"export --format onnx needs the onnx package: {install_extra('export')}"
            ) from None
        dynamic = {name: {0: "batch", 1: "time"} for name in inputs}
        dynamic.update({name: {1: "batch"} for name in state_names})
        dynamic["output"] = {0: "batch"} | ({1: "time"} if _per_step(wrapper, args) else {})
        dynamic.update({name: {1: "batch"} for name in output_names[1:]})
        buffer = io.BytesIO()  # then written atomically: no fixed temporary name to plant
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    wrapper,
                    args,
                    buffer,
                    input_names=[*inputs, *state_names],
                    output_names=output_names,
                    dynamic_axes=dynamic,
                    dynamo=False,
                )
            except torch.onnx.errors.OnnxExporterError as err:
                first = str(err).strip().splitlines()[0].split(" Please feel free")[0]
                raise UserError(
                    f"export --format onnx: the model cannot be exported to ONNX ({first}); "
                    "try --format torchscript"
                ) from None
        atomic.write_bytes(out, buffer.getvalue())
    else:
        raise UserError(f"--format {fmt!r}: expected onnx or torchscript")
    description = {
        "format": fmt,
        "task": task.name,
        "inputs": {
            name: {
                "shape": list(t.shape),
                "dtype": str(t.dtype).removeprefix("torch."),
                "axes": ["batch", "time", *["features"] * (t.dim() - 2)],
            }
            for name, t in inputs.items()
        },
        "state": {name: list(s.shape) for name, s in zip(state_names, states, strict=True)},
        "outputs": output_names,
        "note": "state: (layers x directions, batch, size), zeros to start; no padding: equal-length sequences per batch",
        "task_state": ctx.state,
    }
    atomic.write_text(
        out.with_suffix(out.suffix + ".json"), json.dumps(description, indent=2, default=str) + "\n"
    )
    return description


def _per_step(wrapper: nn.Module, args: tuple[Tensor, ...]) -> bool:
    """Whether the output has a time axis (per-step heads) or not (pooled heads)."""
    with torch.no_grad():
        output = wrapper(*args)[0]
    return output.dim() >= 3


def _saved(module: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    with (
        warnings.catch_warnings()
    ):  # TorchScript is deprecated upstream, still what many servers load
        warnings.simplefilter("ignore")
        torch.jit.save(module, buffer)
    return buffer.getvalue()
