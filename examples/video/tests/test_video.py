"""The video plugin, installed as its own distribution: run, predict, compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-installs the plugin into a folder beside seqsuite; returns the environment to use."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(HERE),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }


def seqsuite(env, *args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "seqsuite", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_clips_move_the_way_their_label_says():
    sys.path.insert(0, str(HERE))
    from seqsuite_video.clips import moving_digits

    clips, labels = moving_digits(20, frames=6, size=16, noise=0.0, seed=0)
    for clip, label in zip(clips, labels, strict=True):
        direction = label.split("-")[1]
        rows, cols = np.nonzero(clip[0])[0].mean(), np.nonzero(clip[0])[1].mean()
        rows_end, cols_end = np.nonzero(clip[-1])[0].mean(), np.nonzero(clip[-1])[1].mean()
        moved = {
            "left": cols_end < cols,
            "right": cols_end > cols,
            "up": rows_end < rows,
            "down": rows_end > rows,
        }
        assert moved[direction]


def test_run_predict_and_compare_as_a_third_party_plugin(installed, tmp_path):
    listed = json.loads(seqsuite(installed, "tasks", "--json", cwd=tmp_path).stdout)
    video = next(t for t in listed if t["name"] == "video")
    assert video["ok"] and video["distribution"] == "seqsuite-video"

    run = seqsuite(
        installed,
        "run",
        "video",
        "--out",
        "run",
        "--set",
        "task.clips=600",
        "--epochs",
        "6",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"accuracy", "digit_accuracy", "direction_accuracy"} <= set(metrics["test"])
    assert metrics["test"]["accuracy"] > metrics["baselines"]["majority"]["accuracy"]
    assert metrics["params_by_part"]["adapter"] > 0  # the CNN is the input adapter

    clip = tmp_path / "clip.npy"
    np.save(clip, np.zeros((10, 16, 16), dtype=np.float32))
    predicted = seqsuite(installed, "predict", "run", str(clip), "--json", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)[0]["clip"] == str(clip)

    for fmt in ("onnx", "torchscript"):
        exported = seqsuite(installed, "export", "run", "--format", fmt, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "run" / "export" / "model.onnx").exists()

    compared = seqsuite(
        installed,
        "compare",
        "video",
        "--quick",
        "--out",
        "cmp",
        "--set",
        "video.clips=200",
        cwd=tmp_path,
    )
    assert compared.returncode == 0, compared.stderr
    rows = json.loads((tmp_path / "cmp" / "compare.json").read_text())["rows"]
    assert rows[0]["task"] == "video" and rows[0]["status"] == "ok"
