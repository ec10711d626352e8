"""Portable models: RUN_DIR/model/ (safetensors + config + state + card), used by eval,
predict, generate, --init-from and seqsuite.load; Hub ids offline; push offline."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from safetensors import safe_open

import seqsuite
from seqsuite import portable

FORECAST = ["--epochs", "2", "--set", "backbone.hidden_size=8", "--set", "task.horizon=6"]


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory) -> Path:
    """One small finished forecast run for the tests of this file (they only read it)."""
    from seqsuite import runner

    out = tmp_path_factory.mktemp("portable") / "f"
    sets = ["backbone.hidden_size=8", "task.horizon=6"]
    runner.run("forecast", dataset="nile", epochs=2, sets=sets, out=out, quiet=True)
    return out


def test_every_run_writes_a_portable_model_folder(forecast_run):
    model = forecast_run / "model"
    assert sorted(p.name for p in model.iterdir()) == [
        "README.md",
        "config.toml",
        "forecaster.json",  # forecast's model_files: what predict reads besides the weights
        "metrics.json",
        "model.safetensors",
        "task_state.json",
    ]
    with safe_open(str(model / "model.safetensors"), "pt") as weights:
        assert weights.metadata()["task"] == "forecast"
        assert "backbone.rnn.weight_ih_l0" in set(weights.keys())
    assert (model / "config.toml").read_bytes() == (forecast_run / "config.toml").read_bytes()
    metrics = json.loads((forecast_run / "metrics.json").read_text())
    card = (model / "README.md").read_text()
    assert "library_name: seqsuite" in card and "**nile**" in card
    assert f"| model ({metrics['model']}) |" in card and f"{metrics['test']['mase']:.4g}" in card
    for name in metrics["baselines"]:
        assert f"| {name} |" in card
    assert 'seqsuite.load("path/to/this/folder")' in card


def test_eval_predict_and_init_from_take_the_model_folder(forecast_run, cli, tmp_path):
    elsewhere = tmp_path / "copied-model"
    seqsuite.load(forecast_run).save(elsewhere)
    from_run = cli("predict", str(forecast_run), "--option", "horizon=3", "--json")
    from_model = cli("predict", str(elsewhere), "--option", "horizon=3", "--json")
    assert from_model.code == 0 and json.loads(from_model.out) == json.loads(from_run.out)
    evaluated = cli("eval", str(elsewhere), "--json")
    metrics = json.loads((forecast_run / "metrics.json").read_text())
    assert evaluated.code == 0 and json.loads(evaluated.out)["test"] == metrics["test"]
    started = cli(
        "run",
        "forecast",
        "--dataset",
        "nile",
        *FORECAST,
        "--init-from",
        str(elsewhere),
        "--out",
        "g",
    )
    assert started.code == 0, started.err
    assert "backbone from" in started.out + started.err


def test_generate_reads_a_model_folder(cli, tmp_path):
    args = ["--set", "backbone.hidden_size=16", "--set", "task.embedding_dim=8",
            "--set", "task.transpose=false", "--epochs", "1"]  # fmt: skip
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    from seqsuite_tasks.music.midi import write_midi

    for k in range(10):
        write_midi(
            pieces / f"{k}.mid", [(60 + (i * (k + 1)) % 12, float(i), 1.0) for i in range(12)]
        )
    assert cli("run", "music", "--data", str(pieces), *args, "--out", "m").code == 0
    result = cli("generate", "m/model", "--length", "8", "--out", "song.mid")
    assert result.code == 0, result.err
    assert Path("song.mid").read_bytes()[:4] == b"MThd"


def test_a_hub_id_offline_is_one_line_within_seconds(cli):
    for args in (
        ["eval", "someone/some-model"],
        ["predict", "someone/some-model"],
        ["run", "forecast", "--init-from", "someone/some-model", "--out", "x"],
    ):
        started = time.perf_counter()
        result = cli(*args)
        assert time.perf_counter() - started < 10
        assert result.code == 2, result.err
        assert len(result.err.strip().splitlines()) == 1 and "offline" in result.err
    with pytest.raises(seqsuite.UserError, match="offline"):
        seqsuite.load("someone/some-model")


def test_push_offline_is_one_clear_line_and_uploads_nothing(forecast_run, cli):
    result = cli("push", str(forecast_run), "me/my-model")
    assert result.code == 2
    assert result.err.strip() == (
        "error: push me/my-model: the Hugging Face Hub cannot be reached (offline); "
        "nothing was uploaded"
    )
    bad = cli("push", str(forecast_run), "not-an-id")
    assert bad.code == 2 and "OWNER/NAME" in bad.err
    empty = Path("empty")
    empty.mkdir()
    missing = cli("push", str(empty), "me/my-model")
    assert missing.code == 2 and "no portable model" in missing.err


def test_a_damaged_weights_file_is_refused_in_one_line(forecast_run, cli, tmp_path):
    copy = seqsuite.load(forecast_run).save(tmp_path / "m")
    (copy / "model.safetensors").write_bytes(b"\x10\x00\x00\x00not a header")
    result = cli("eval", str(copy))
    assert result.code == 2 and "not a valid safetensors file" in result.err


def test_hub_ids_are_told_from_paths():
    assert portable.looks_like_hub_id("owner/name")
    for text in ("./owner/name", "/abs/path", "a/b/c", "name", "owner/"):
        assert not portable.looks_like_hub_id(text)


class HubStandIn(BaseHTTPRequestHandler):
    """The Hub's HTTP API as far as ``create_repo`` + ``upload_folder`` use it, on loopback:
    it records what huggingface_hub sends and answers as the Hub does (small files go in
    the commit itself, "regular" upload mode). ``refuse`` makes the commit fail (403)."""

    received: list[tuple[str, bytes]] = []
    refuse = False

    def _send(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        self._send(404, {"error": "not served here"})

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.received.append((self.path, body))
        host = self.headers["host"]
        if self.path.startswith("/api/repos/create"):
            return self._send(200, {"url": f"http://{host}/me/my-model", "name": "me/my-model"})
        if self.path.startswith("/api/validate-yaml"):
            return self._send(200, {"errors": [], "warnings": []})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            modes = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
            ]
            return self._send(200, {"files": modes})
        if "/commit/" in self.path:
            if self.refuse:
                return self._send(403, {"error": "You have no write access to me/my-model"})
            url = f"http://{host}/me/my-model/commit/{'a' * 40}"
            return self._send(200, {"commitUrl": url, "commitOid": "a" * 40})
        self._send(404, {"error": "not served here"})

    def log_message(self, *args: object) -> None:
        pass


def push_to_stand_in(run_dir: Path, tmp_path: Path, refuse: bool = False):
    """``seqsuite push`` in a child process (huggingface_hub reads HF_ENDPOINT at import)
    against the loopback stand-in; returns the finished process and what the server got."""
    HubStandIn.received, HubStandIn.refuse = [], refuse
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "HF_TOKEN": "hf_not_a_real_token",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "seqsuite", "push", str(run_dir), "me/my-model"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    finally:
        server.shutdown()
    return done, HubStandIn.received


def test_push_uploads_every_file_of_the_model_folder(forecast_run, tmp_path):
    done, received = push_to_stand_in(forecast_run, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "uploaded" in done.stdout and "me/my-model" in done.stdout
    paths = [path for path, _ in received]
    assert paths[0].startswith("/api/repos/create")
    created = json.loads(received[0][1])
    assert (created["organization"], created["name"], created["visibility"]) == (
        "me",
        "my-model",
        "public",
    )
    commit = next(
        body for path, body in received if path.startswith("/api/models/me/my-model/commit/")
    )
    lines = [json.loads(line) for line in commit.splitlines() if line.strip()]
    assert lines[0]["key"] == "header" and lines[0]["value"]["summary"] == "seqsuite push"
    sent = {v["value"]["path"]: base64.b64decode(v["value"]["content"]) for v in lines[1:]}
    model = forecast_run / "model"
    assert sent == {p.name: p.read_bytes() for p in model.iterdir()}


def test_a_refused_push_is_one_line(forecast_run, tmp_path):
    done, _ = push_to_stand_in(forecast_run, tmp_path, refuse=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: push me/my-model: the upload failed")


def test_a_weights_file_that_is_a_fifo_is_refused_not_read(tmp_path):
    import os

    from seqsuite import portable
    from seqsuite.errors import UserError

    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="FIFO"):
        portable.load_weights(fifo)
