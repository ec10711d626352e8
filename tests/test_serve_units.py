"""The serving parts in-process: the default hooks, batching, joining, request limits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from seqsuite import limits  # noqa: E402
from seqsuite.errors import FieldError, UserError  # noqa: E402
from seqsuite.serve.app import ServeSettings, create_app  # noqa: E402
from seqsuite.serve.deadline import Deadline  # noqa: E402
from seqsuite.serve.runs import ServedRun, route_name  # noqa: E402
from seqsuite.serve.streaming import join_pieces  # noqa: E402
from seqsuite.task import PredictCall, Task, serves  # noqa: E402


class Echo(Task):
    """predict: each input upper-cased; "bad" fails the whole call."""

    name = "echo"
    predict_options = {"suffix": "appended to each answer"}

    def predict(self, ctx, model, inputs, options):
        if "slow" in inputs:
            time.sleep(1.0)
        if "bad" in inputs:
            raise UserError("bad: an input this task refuses")
        return [{"answer": i.upper() + str(options.get("suffix", ""))} for i in inputs]


def served(max_batch=32, max_wait_ms=20.0, timeout_s=30.0):
    run = ServedRun("echo", Path("."), Echo(), None, None, ("predict",))
    settings = ServeSettings(max_batch=max_batch, max_wait_ms=max_wait_ms, timeout_s=timeout_s)
    return create_app([run], settings)


async def answers(app, bodies):
    await app.service.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post("/v1/echo/predict", json=b) for b in bodies))
    finally:
        await app.service.stop()


def test_default_request_is_what_predict_takes_and_unknown_options_are_named():
    task = Echo()
    assert task.parse_request(
        None, {"inputs": ["a", 2], "options": {"suffix": "!"}}
    ) == PredictCall(["a", "2"], {"suffix": "!"})
    with pytest.raises(FieldError) as err:
        task.parse_request(None, {"inputs": ["a"], "options": {"data": "/etc/passwd"}})
    assert err.value.field == "options.data"
    with pytest.raises(FieldError, match="inputs"):
        task.parse_request(None, {"inputs": "a"})
    assert serves(task, "predict") and not serves(task, "generate")


def test_concurrent_requests_share_batches_and_one_failure_stays_its_own():
    app = served()
    bodies = [{"inputs": [f"x{k}"]} for k in range(20)] + [{"inputs": ["bad"]}]
    got = asyncio.run(answers(app, bodies))
    assert [r.status_code for r in got] == [200] * 20 + [400]
    assert got[3].json() == {"predictions": [{"answer": "X3"}]}
    assert got[-1].json()["error"]["message"].startswith("bad:")
    batches, requests = app.service.health()["batches"]["echo"]
    assert requests == 21 and batches < 21


def test_an_answer_past_the_timeout_is_a_504_and_the_server_answers_the_next():
    app = served(max_batch=1, timeout_s=0.3)
    got = asyncio.run(answers(app, [{"inputs": ["slow"]}]))
    assert got[0].status_code == 504
    assert got[0].json()["error"]["message"] == "no answer within 0.3 s"
    got = asyncio.run(answers(app, [{"inputs": ["quick"]}]))
    assert got[0].json() == {"predictions": [{"answer": "QUICK"}]}


async def _within_deadline(seconds: float, sleep: float, cancel_after: float | None = None):
    """What a Deadline of ``seconds`` around a sleep of ``sleep`` does, and whether the
    task can still wait afterwards (a timer left behind would cancel it later)."""

    async def body():
        with Deadline(seconds, ValueError("too late")):
            await asyncio.sleep(sleep)
        await asyncio.sleep(seconds + 0.05)
        return "done"

    task = asyncio.ensure_future(body())
    if cancel_after is not None:
        await asyncio.sleep(cancel_after)
        task.cancel()
    try:
        return await task
    except (ValueError, asyncio.CancelledError) as err:
        return type(err).__name__


def test_a_deadline_raises_its_failure_only_when_its_own_time_is_up():
    assert asyncio.run(_within_deadline(0.05, 1.0)) == "ValueError"
    assert asyncio.run(_within_deadline(0.2, 0.01)) == "done"  # its timer does not fire later
    # a cancellation from outside (a shutdown) stays a cancellation
    assert asyncio.run(_within_deadline(1.0, 2.0, cancel_after=0.05)) == "CancelledError"


def test_join_pieces_concatenates_text_and_lists_the_rest():
    pieces = [{"text": "a", "note": 1}, {"text": "b"}, {"note": 2}]
    assert join_pieces(pieces) == {"text": "ab", "notes": [1, 2]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"length": 0}, "length"),
        ({"length": float("nan")}, "length"),
        ({"temperature": -1}, "temperature"),
        ({"top_k": -3}, "top_k"),
        ({"seed": 2**70}, "seed"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_generation_options_name_the_wrong_field(body, field):
    with pytest.raises(FieldError) as err:
        limits.serve_generation(body, 100)
    assert err.value.field == field


def test_route_names_are_url_safe_and_unique(tmp_path):
    assert route_name(tmp_path / "my run (2)", set()) == "my-run-2"
    assert route_name(tmp_path / "a", {"a", "a-2"}) == "a-3"


def test_answers_encode_to_the_same_json_with_or_without_orjson(monkeypatch):
    import json

    from seqsuite.serve import app, service

    content = {"forecast": [0.1 + 0.2, 1e-7, -3.0], "quantiles": {"0.1": [1.5]}, 7: "seven"}
    with_fast = json.loads(app.Answer(content).body)
    assert with_fast["forecast"] == content["forecast"] and with_fast["7"] == "seven"
    monkeypatch.setattr(service, "orjson", None)
    assert json.loads(app.Answer(content).body) == with_fast


def test_a_plugins_numpy_numbers_and_nan_are_answered_as_json(monkeypatch):
    """np.float32 in a plugin's rows was a 500 (orjson and the standard encoder both
    refused it); NaN is null either way."""
    import json

    import numpy as np

    from seqsuite.serve import service

    content = {"predictions": [{"p": np.float32(0.25), "n": np.int64(3), "q": float("nan")}]}
    expected = {"predictions": [{"p": 0.25, "n": 3, "q": None}]}
    assert json.loads(service.encode(content)) == expected
    monkeypatch.setattr(service, "orjson", None)
    assert json.loads(service.encode(content)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"series": [1, 2.5, -3e2]}',
        b'{"series": [NaN, 1e400]}',
        b'{"n": 12345678901234567890, "m": -9223372036854775808}',
        b'{"t": "\\ud800"}',
        b"",
    ],
)
def test_request_bodies_read_the_same_with_or_without_orjson(monkeypatch, raw):
    """orjson is strict JSON; what it refuses the standard library still reads."""
    import math

    from seqsuite.serve import service

    fast = service.json_object(raw)
    monkeypatch.setattr(service, "orjson", None)
    standard = service.json_object(raw)
    assert json_equal(fast, standard)
    if b"NaN" in raw:
        assert math.isnan(fast["series"][0]) and fast["series"][1] == math.inf


def json_equal(a, b) -> bool:
    return repr(a) == repr(b)


@pytest.mark.parametrize(
    ("raw", "status"), [(b'{"texts": [', 400), (b"[1, 2]", 422), (b"[" * 5000 + b"]" * 5000, 400)]
)
def test_a_body_that_is_not_a_json_object_is_refused_with_or_without_orjson(
    monkeypatch, raw, status
):
    from seqsuite.serve import service

    for module in (service.orjson, None):
        monkeypatch.setattr(service, "orjson", module)
        with pytest.raises(service.RequestFailed) as failed:
            service.json_object(raw)
        assert failed.value.status == status and failed.value.field == "body"


def test_the_fast_path_answers_as_fastapis_route_does():
    """A JSON predict request gives the same status and body through the fast path as
    through FastAPI's own route; what the fast path does not take goes to FastAPI."""
    app = served()

    async def both():
        await app.service.start()
        try:
            got = []
            for target in (app, app.api):
                transport = httpx.ASGITransport(app=target)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    got.append(
                        [
                            await client.post("/v1/echo/predict", json={"inputs": ["a", "b"]}),
                            await client.post("/v1/echo/predict", json={"inputs": "a"}),
                            await client.post("/v1/echo/predict", content=b'{"inputs": ['),
                            await client.post("/v1/echo/predict", json={"inputs": ["bad"]}),
                            await client.get("/v1/echo/predict"),
                            await client.post(
                                "/v1/echo/predict", files={"inputs": ("x.txt", b"abc")}
                            ),
                        ]
                    )
            return got
        finally:
            await app.service.stop()

    fast, framework = asyncio.run(both())
    assert [r.status_code for r in fast] == [200, 422, 400, 400, 405, 422]
    for a, b in zip(fast, framework, strict=True):
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert fast[0].json() == {"predictions": [{"answer": "A"}, {"answer": "B"}]}


def test_the_fast_path_refuses_a_declared_oversized_body_before_reading_it():
    app = create_app(
        [ServedRun("echo", Path("."), Echo(), None, None, ("predict",))],
        ServeSettings(max_body_bytes=100),
    )

    async def post():
        await app.service.start()
        read = []

        async def receive():
            read.append(1)
            return {"type": "http.request", "body": b"x" * 50, "more_body": True}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/echo/predict",
            "headers": [(b"content-length", b"1000000"), (b"content-type", b"application/json")],
        }
        try:
            await app(scope, receive, send)
        finally:
            await app.service.stop()
        return read, sent

    read, sent = asyncio.run(post())
    assert not read and sent[0]["status"] == 413
    assert b'"field":"body"' in sent[1]["body"]


def test_a_served_forecast_answers_from_what_was_loaded_after_its_folder_changes(tmp_path):
    import shutil

    import torch

    from seqsuite.serve.runs import load_runs
    from tests import serve_runs

    (tmp_path / "made").mkdir()
    run_dir = serve_runs.forecast(tmp_path / "made")
    run = load_runs([str(run_dir)])[0]
    body = {"series": [100 + t % 12 for t in range(48)], "horizon": 3}

    def answer():
        with torch.inference_mode():
            return run.task.predict_batch(
                run.ctx, run.model, [run.task.parse_request(run.ctx, body)]
            )

    before = answer()
    assert "quantiles" in before[0]
    shutil.rmtree(run_dir)  # deleted (or replaced by another run) while served
    assert answer() == before


def test_a_run_that_breaks_after_the_check_stops_the_workers_with_one_line(monkeypatch):
    """With --workers, a run that loads in the parent's check but not in a worker (deleted
    or replaced meanwhile) used to make uvicorn restart that worker without end; the
    worker now says why, stops the supervisor, and serve raises that one line."""
    import os
    import signal

    from seqsuite.serve import server

    loads = []

    def load_runs(run_dirs):
        loads.append(list(run_dirs))
        if len(loads) > 1:  # the parent's check passed; the run broke before the worker
            raise UserError("runs/gone: not a seqsuite run directory")
        return []

    signals = []
    exits = []

    def supervisor(app, **config):  # uvicorn.run with workers: one worker, in-process
        assert config["workers"] == 2 and config["factory"]
        try:
            server.app_from_environment()
        except SystemExit as stop:
            exits.append(stop.code)

    monkeypatch.setattr(server, "load_runs", load_runs)
    monkeypatch.setattr(server.uvicorn, "run", supervisor)
    monkeypatch.setattr(os, "kill", lambda pid, sig: signals.append((pid, sig)))
    monkeypatch.delenv(server.ENVIRONMENT, raising=False)
    with pytest.raises(UserError, match="^runs/gone: not a seqsuite run directory$"):
        server.serve(["runs/gone"], port=0, workers=2)
    assert loads == [["runs/gone"], ["runs/gone"]]
    assert exits == [server.STARTUP_FAILURE]
    assert signals == [(os.getppid(), signal.SIGTERM)]
