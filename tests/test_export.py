"""seqsuite export: the exported model computes what the eager model computes, for any
batch size and length, with the recurrent state in and out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqsuite import assembly, inference

RUNS = {
    "forecast": [
        "--epochs",
        "1",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "task.baselines=['naive']",
    ],
    "sentiment": ["--epochs", "1", "--set", "backbone.hidden_size=8", "--set", "task.min_freq=1"],
    "textgen": [
        "--epochs",
        "1",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "backbone.num_layers=1",
        "--set",
        "task.bptt=20",
        "--set",
        "train.time_budget=0",
        "--set",
        "task.sample_length=5",
        "--set",
        "train.batch_size=4",
    ],
    "speech": [
        "--epochs",
        "1",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "backbone.num_layers=1",
        "--set",
        "train.batch_size=4",
    ],
}


def data_for(task: str, tmp_path: Path) -> list[str]:
    if task == "forecast":
        path = tmp_path / "s.csv"
        t = np.arange(120)
        path.write_text("value\n" + "\n".join(str(100 + v + 5 * np.sin(v / 2)) for v in t))
    elif task == "speech":  # two "words": tones of two pitches, ten recordings each
        import soundfile

        path = tmp_path / "words"
        rng = np.random.default_rng(0)
        for label, pitch in (("low", 200), ("high", 900)):
            (path / label).mkdir(parents=True)
            for k in range(10):
                t = np.arange(4000 + 400 * k) / 8000
                tone = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.normal(size=t.size)
                soundfile.write(path / label / f"{k}.wav", tone.astype(np.float32), 8000)
    elif task == "sentiment":
        path = tmp_path / "r.csv"
        rows = [("a great film", "pos"), ("dull and long", "neg")] * 30
        path.write_text("text,label\n" + "\n".join(f"{a},{b}" for a, b in rows))
    else:
        path = tmp_path / "t.txt"
        path.write_text("the quick brown fox jumps over the lazy dog. " * 60)
    return ["--data", str(path)]


def inputs_for(description: dict, batch: int, time: int) -> dict[str, np.ndarray]:
    out = {}
    for name, spec in description["inputs"].items():
        shape = [batch, time, *spec["shape"][2:]]
        if spec["dtype"].startswith("int"):
            out[name] = np.random.default_rng(0).integers(2, 5, shape).astype(np.int64)
        else:
            out[name] = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    for name, shape in description["state"].items():
        out[name] = (
            np.random.default_rng(1).normal(size=[shape[0], batch, shape[2]]).astype(np.float32)
            * 0.1
        )
    return out


@pytest.mark.parametrize("task", sorted(RUNS))
def test_exported_models_match_eager(cli, tmp_path, task):
    result = cli("run", task, "--out", "r", *data_for(task, tmp_path), *RUNS[task])
    assert result.code == 0, result.err
    loaded = assembly.load("r", quiet=True)
    ctx, model = loaded.ctx, loaded.model

    onnx = inference.export("r", "onnx", quiet=True)
    script = inference.export("r", "torchscript", quiet=True)
    description = json.loads(Path(onnx["path"] + ".json").read_text())
    assert description["task_state"] == ctx.state

    import onnxruntime

    session = onnxruntime.InferenceSession(onnx["path"])
    loaded = torch.jit.load(script["path"])
    for batch, time in ((1, 7), (3, 13)):
        feed = inputs_for(description, batch, time)
        names = list(description["inputs"])
        state = [torch.from_numpy(feed[n]) for n in description["state"]]
        with torch.no_grad():
            out, new_state = model(
                {n: torch.from_numpy(feed[n]) for n in names},
                tuple(state) if len(state) == 2 else state[0],
            )
            scripted = [t.numpy() for t in loaded(*(torch.from_numpy(feed[k]) for k in feed))]
        expected = [out, *(new_state if isinstance(new_state, tuple) else (new_state,))]
        for got in (session.run(None, feed), scripted):
            assert len(got) == len(expected)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5)


def test_custom_activation_is_refused_clearly(cli, tmp_path):
    result = cli(
        "run",
        "forecast",
        "--out",
        "r",
        *data_for("forecast", tmp_path),
        *RUNS["forecast"],
        "--set",
        "backbone.activation='relu'",
    )
    assert result.code == 0, result.err
    refused = cli("export", "r", "--format", "onnx")
    assert refused.code == 2 and "only the fused tanh path exports" in refused.err


def test_an_exporter_failure_is_one_line_and_leaves_no_file(cli, tmp_path, monkeypatch):
    """A model the ONNX exporter cannot express (a plugin's own layer) gets a clear refusal."""
    assert (
        cli(
            "run", "forecast", "--out", "r", *data_for("forecast", tmp_path), *RUNS["forecast"]
        ).code
        == 0
    )

    def unsupported(*args, **kwargs):
        raise torch.onnx.errors.OnnxExporterError("Unsupported: ONNX export of operator foo")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    result = cli("export", "r", "--format", "onnx")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "cannot be exported to ONNX (Unsupported: ONNX export of operator foo" in result.err
    assert "try --format torchscript" in result.err
    assert not list(Path("r").glob("*.onnx")) and not list(Path("r").glob(".*.tmp"))
