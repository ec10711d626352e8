"""``seqsuite serve`` as a client meets it: a live server in a subprocess over five tiny
runs, every route, malformed requests, a Server-Sent Event stream, a client that goes
away mid-stream, and SIGTERM draining a stream in flight."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from tests import serve_runs  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve-runs")
    made = {}
    for name, make in serve_runs.ALL.items():
        (root / name).mkdir()
        made[name] = make(root / name)
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(run_dirs: list[Path], *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "seqsuite", "serve", *map(str, run_dirs), "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not start")


@pytest.fixture(scope="module")
def server(runs):
    process, url = start(list(runs.values()))
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def post(url: str, path: str, body=None, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=60, **kwargs)


def test_models_and_health_list_every_run_with_its_routes(server):
    models = {m["task"]: m for m in httpx.get(f"{server}/v1/models").json()["models"]}
    assert set(models) == set(serve_runs.ALL)
    assert models["forecast"]["routes"] == ["/v1/forecast-run/predict"]
    assert models["textgen"]["routes"] == ["/v1/textgen-run/generate"]
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
    docs = httpx.get(f"{server}/openapi.json").json()
    assert "/v1/sentiment-run/predict" in docs["paths"]
    assert httpx.get(f"{server}/docs").status_code == 200


def test_forecast_answers_the_horizon_asked_for(server):
    series = [100 + t + 10 * ((t % 12) - 6) / 6 for t in range(48)]
    answer = post(server, "/v1/forecast-run/predict", {"series": series, "horizon": 9})
    assert answer.status_code == 200, answer.text
    forecast = answer.json()["forecast"]
    assert len(forecast) == 9 and all(isinstance(v, float) for v in forecast)
    default = post(server, "/v1/forecast-run/predict", {"series": series}).json()["forecast"]
    assert len(default) == 6 and default == forecast[:6]  # the run's horizon; same first steps


def test_sentiment_labels_each_text(server):
    answer = post(server, "/v1/sentiment-run/predict", {"texts": ["a fine film", "boring", ""]})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert all(p["label"] in ("pos", "neg") and 0.5 <= p["probability"] <= 1 for p in predictions)


def test_speech_takes_base64_and_multipart_audio(server):
    clip = serve_runs.wav_bytes(900.0)
    as_json = post(server, "/v1/speech-run/predict", {"audio": base64.b64encode(clip).decode()})
    assert as_json.status_code == 200, as_json.text
    upload = httpx.post(
        f"{server}/v1/speech-run/predict", files={"audio": ("a.wav", clip, "audio/wav")}
    )
    assert upload.status_code == 200, upload.text
    assert upload.json() == as_json.json()
    assert as_json.json()["predictions"][0]["label"] in ("low", "high")


def test_generated_text_equals_the_command_lines_sample(server, runs):
    import seqsuite

    body = {"prompt": "the quick", "length": 40, "seed": 3, "temperature": 0.8}
    answer = post(server, "/v1/textgen-run/generate", body)
    assert answer.status_code == 200, answer.text
    options = {"length": 40, "seed": 3, "temperature": 0.8, "prompt": "the quick", "top_k": 0}
    expected = seqsuite.generate(runs["textgen"], options, quiet=True)["text"]
    assert answer.json()["pieces"] == 40
    assert "the quick" + answer.json()["text"] == expected


def test_generation_streams_server_sent_events(server):
    body = {"prompt": "the", "length": 25, "seed": 1, "stream": True}
    with httpx.stream("POST", f"{server}/v1/textgen-run/generate", json=body, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_events(r.iter_lines())
    pieces = [data for name, data in events if name == "piece"]
    assert len(pieces) == 25 and all(len(p["text"]) == 1 for p in pieces)
    assert events[-1] == ("done", {"pieces": 25, "seconds": events[-1][1]["seconds"]})
    whole = post(server, "/v1/textgen-run/generate", {**body, "stream": False}).json()
    assert "".join(p["text"] for p in pieces) == whole["text"]


def test_music_generates_events_with_their_notes(server):
    answer = post(server, "/v1/music-run/generate", {"length": 12, "seed": 2})
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert 1 <= len(events) <= 12
    assert all(0 <= n["pitch"] <= 127 and n["duration"] > 0 for n in answer.json()["notes"])


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/forecast-run/predict", {"series": "1,2,3"}, 422, "series"),
        ("/v1/forecast-run/predict", {"series": [1.0] * 40, "horizon": -2}, 422, "horizon"),
        ("/v1/forecast-run/predict", {"series": [1, 2, None] + [1] * 40}, 422, "series[2]"),
        ("/v1/sentiment-run/predict", {"texts": []}, 422, "texts"),
        ("/v1/sentiment-run/predict", [1, 2], 422, "body"),
        ("/v1/speech-run/predict", {"audio": "%%%"}, 422, "audio[0]"),
        ("/v1/speech-run/predict", {"audio": "aGVsbG8="}, 422, "audio"),
        ("/v1/textgen-run/generate", {"length": 10**9}, 422, "length"),
        ("/v1/textgen-run/generate", {"temperature": "hot"}, 422, "temperature"),
        ("/v1/textgen-run/generate", {"prompt": ["x"]}, 422, "prompt"),
        ("/v1/music-run/generate", {"prompt": ["no:such"]}, 422, "prompt[0]"),
        ("/v1/nothing/predict", {}, 404, None),
    ],
)
def test_a_bad_request_is_a_4xx_naming_its_field(server, path, body, status, field):
    answer = post(server, path, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field
    assert answer.json()["error"]["message"]


def test_malformed_and_oversized_bodies_are_refused_before_any_work(server):
    broken = httpx.post(f"{server}/v1/sentiment-run/predict", content=b'{"texts": [', timeout=30)
    assert broken.status_code == 400 and broken.json()["error"]["field"] == "body"
    big = httpx.post(f"{server}/v1/sentiment-run/predict", content=b"x" * (9 * 2**20), timeout=30)
    assert big.status_code == 413
    nested = httpx.post(
        f"{server}/v1/sentiment-run/predict", content=b"[" * 100_000 + b"]" * 100_000
    )
    assert nested.status_code == 400


def test_a_client_that_leaves_stops_its_generation(server):
    body = {"prompt": "the", "length": 10_000, "stream": True}
    with httpx.stream("POST", f"{server}/v1/textgen-run/generate", json=body, timeout=60) as r:
        lines = r.iter_lines()
        for _ in range(6):
            next(lines)
    deadline = time.monotonic() + 20
    while httpx.get(f"{server}/healthz").json()["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{server}/healthz").json()["streams"] == 0


def test_sigterm_drains_a_stream_in_flight(runs):
    process, url = start([runs["textgen"]])
    body = {"prompt": "the", "length": 3000, "stream": True, "seed": 4}
    with httpx.stream("POST", f"{url}/v1/textgen-run/generate", json=body, timeout=60) as r:
        lines = r.iter_lines()
        first = next(lines)
        process.send_signal(signal.SIGTERM)
        events = parse_events([first, *lines])
    assert sum(1 for name, _ in events if name == "piece") == 3000
    assert events[-1][0] == "done"
    assert process.wait(timeout=60) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)


def parse_events(lines) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events


def test_several_workers_each_answer_and_stop_on_sigterm(runs):
    process, url = start([runs["sentiment"]], "--workers", "2")
    answers = [post(url, "/v1/sentiment-run/predict", {"texts": ["fine"]}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def _stalled_request(url: str, path: str, kind: str = "application/json") -> bytes:
    """Headers promising 500 bytes of body, 13 of them sent, then nothing: the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n"
            "Content-Length: 500\r\n\r\n".encode()
            + (b'{"series":[1,' if kind == "application/json" else b"--xx\r\nContent-")
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_body_that_stops_coming_is_answered_at_the_timeout(runs):
    """A slow or stalled client (slow loris) held its request open forever: the timeout
    only began once the body was read. Now 408 naming the body, on the predict fast path
    and on FastAPI's routes (a multipart upload too); and SIGTERM then exits 0 at once."""
    process, url = start([runs["forecast"], runs["textgen"]], "--timeout", "2")
    multipart = "multipart/form-data; boundary=xx"
    try:
        for path, kind in (
            ("/v1/forecast-run/predict", "application/json"),
            ("/v1/textgen-run/generate", "application/json"),
            ("/v1/forecast-run/predict", multipart),
        ):
            started = time.monotonic()
            answer = _stalled_request(url, path, kind)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b'"field":"body"' in answer.replace(b" ", b"")
            assert time.monotonic() - started < 10
        assert httpx.get(f"{url}/healthz").json()["in_flight"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_port_in_use_is_one_line_and_exit_2(runs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "seqsuite", "serve", str(runs["forecast"]), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert "already in use" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_run_that_cannot_be_served_is_one_line_and_exit_2_with_workers_too(runs, tmp_path):
    """With --workers each worker loads the runs, and uvicorn starts a failed worker again
    for ever: a bad run directory gave tracebacks without end. It is found before the
    workers start."""
    bad = tmp_path / "not-a-run"
    bad.mkdir()
    for workers in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-m", "seqsuite", "serve", str(runs["forecast"]), str(bad)]
            + ["--port", "0", "--workers", workers],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr[-2000:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not a seqsuite run directory" in lines[0], lines[:5]
