"""The HTTP API: FastAPI routes over the loaded runs.

``GET /healthz``, ``GET /v1/models``, and per run ``POST /v1/{run}/predict`` (dynamically
batched, :mod:`.batching`) and ``POST /v1/{run}/generate`` (``"stream": true`` for
Server-Sent Events, :mod:`.streaming`); OpenAPI docs at ``/docs``.

Every error is a JSON object ``{"error": {"message": ..., "field": ...}}``: a bad request
is a 4xx naming its field (413 too large, 400 not JSON, 422 a wrong field, 404 an
unknown route), 503 when the queue is full, 504 past the request timeout; a 500 only
for a bug, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from .. import limits
from ..boundary import describe
from ..errors import FieldError, UserError
from .batching import Batcher
from .runs import ServedRun
from .streaming import GenerationStream, join_pieces, sse

try:
    import orjson
except ImportError:  # installed without the serve extra: the standard encoder answers
    orjson = None

log = logging.getLogger("seqsuite.serve")

#: request errors that the input itself causes: a 4xx, never a 500
INPUT_ERRORS = (UnicodeError, RecursionError, OverflowError)


@dataclass
class ServeSettings:
    """What ``seqsuite serve`` was asked for (see its options)."""

    max_batch: int = 32
    max_wait_ms: float = 2.0
    timeout_s: float = 30.0
    max_body_bytes: int = limits.MAX_REQUEST_BYTES
    max_queue: int = 1024
    max_streams: int = 8


class RequestFailed(Exception):
    """An answer other than 200, with its JSON error."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class Answer(JSONResponse):
    """A JSON answer encoded by orjson where it is installed (the serve extra brings it):
    a forecast with its quantiles is about a hundred floats, 55 us in the standard
    library's encoder and 3 us in orjson's on the development machine. Anything orjson
    will not take goes to the standard encoder, as before."""

    def render(self, content: Any) -> bytes:
        if orjson is not None:
            try:
                return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:
                pass
        return super().render(content)


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "field": field}}, status_code=status)


class Service:
    """The runs, their batchers and the counters ``/healthz`` shows."""

    def __init__(self, runs: list[ServedRun], settings: ServeSettings):
        self.runs = {run.name: run for run in runs}
        self.settings = settings
        self.batchers: dict[str, Batcher] = {}
        self.streams = 0
        self.in_flight = 0
        self.started = time.time()

    async def start(self) -> None:
        s = self.settings
        for run in self.runs.values():
            if "predict" in run.routes:
                self.batchers[run.name] = Batcher(
                    run, s.max_batch, s.max_wait_ms / 1000, s.max_queue
                )
                self.batchers[run.name].start()

    async def stop(self) -> None:
        for batcher in self.batchers.values():
            await batcher.stop()

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "runs": sorted(self.runs),
            "in_flight": self.in_flight,
            "streams": self.streams,
            "batches": {n: [b.batches, b.requests] for n, b in self.batchers.items()},
            "uptime_s": round(time.time() - self.started, 1),
        }

    # -- predict ------------------------------------------------------------------------

    async def predict(self, run: ServedRun, request: Request) -> dict[str, Any]:
        batcher = self.batchers[run.name]
        batcher.arriving += 1  # a batch waits for more only while some are on their way
        try:
            body = await read_body(request, self.settings.max_body_bytes)
            parsed = call_task(run.task.parse_request, run.ctx, body)
            answer = batcher.submit(parsed)
        except asyncio.QueueFull:
            raise RequestFailed(503, "the server is busy; try again shortly") from None
        finally:
            batcher.arriving -= 1
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                return await answer
        except TimeoutError:
            raise RequestFailed(504, f"no answer within {self.settings.timeout_s:g} s") from None
        except (UserError, *INPUT_ERRORS) as err:
            raise as_request_error(err) from None

    # -- generate -----------------------------------------------------------------------

    async def generate(self, run: ServedRun, request: Request) -> Any:
        body = await read_body(request, self.settings.max_body_bytes)
        options = call_task(limits.serve_generation, body, 200)
        if self.streams >= self.settings.max_streams:
            raise RequestFailed(503, "too many generations at once; try again shortly")
        deadline = time.monotonic() + self.settings.timeout_s
        stream = GenerationStream(run, options, deadline)
        if options["stream"]:
            return StreamingResponse(
                self._events(stream, request),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        pieces = []
        self.streams += 1
        try:
            async for piece in stream.start():
                pieces.append(piece)
        except (UserError, *INPUT_ERRORS, TimeoutError) as err:
            raise as_request_error(err) from None
        finally:
            stream.stop()
            self.streams -= 1
        return {**join_pieces(pieces), "pieces": len(pieces)}

    async def _events(self, stream: GenerationStream, request: Request):
        """The SSE body: ``piece`` events, then ``done`` (or ``error``); stops the
        generation when the client goes away."""
        self.streams += 1
        started = time.perf_counter()
        try:
            async for piece in stream.start():
                yield sse("piece", piece)
                if stream.made % 16 == 0 and await request.is_disconnected():
                    return
            seconds = time.perf_counter() - started
            yield sse("done", {"pieces": stream.made, "seconds": round(seconds, 4)})
        except (UserError, *INPUT_ERRORS, TimeoutError) as err:
            failed = as_request_error(err)
            yield sse("error", {"message": failed.message, "field": failed.field})
        except Exception:  # a bug: logged, and the client told (the status is already 200)
            log.exception("generation failed")
            yield sse("error", {"message": "internal error", "field": None})
        finally:
            stream.stop()
            self.streams -= 1


async def read_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object (or a multipart form's files, base64-encoded, under
    their field names), read no further than ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise RequestFailed(413, f"body of {int(declared):,} bytes; at most {max_bytes:,}", "body")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _form(request, max_bytes)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise RequestFailed(413, f"body over {max_bytes:,} bytes", "body")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as err:
        raise RequestFailed(400, f"not valid JSON ({err})", "body") from None
    if not isinstance(body, dict):
        raise RequestFailed(422, f"expected a JSON object, got {type(body).__name__}", "body")
    return body


async def _form(request: Request, max_bytes: int) -> dict[str, Any]:
    """A multipart upload: each file as base64 under its field name (a list if repeated)."""
    try:
        form = await request.form(max_files=64, max_fields=64, max_part_size=max_bytes)
    except Exception as err:  # noqa: BLE001 - a malformed upload, described to the client
        raise RequestFailed(400, f"not a valid multipart form ({err})", "body") from None
    body: dict[str, Any] = {}
    for key, value in form.multi_items():
        if hasattr(value, "read"):
            value = base64.b64encode(await value.read()).decode()
        body.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in body.items()}


def call_task(hook: Any, *args: Any) -> Any:
    """A parsing hook; what the request got wrong becomes a 4xx."""
    try:
        return hook(*args)
    except (UserError, *INPUT_ERRORS) as err:
        raise as_request_error(err) from None


def as_request_error(err: BaseException) -> RequestFailed:
    if isinstance(err, FieldError):
        return RequestFailed(422, str(err), err.field)
    if isinstance(err, TimeoutError):
        return RequestFailed(504, str(err) or "timed out")
    if isinstance(err, UserError):
        return RequestFailed(400, str(err))
    return RequestFailed(400, describe(err))


def create_app(runs: list[ServedRun], settings: ServeSettings | None = None) -> FastAPI:
    """The application serving ``runs`` (loaded already, so that a bad run directory
    fails before the port opens)."""
    service = Service(runs, settings or ServeSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()

    app = FastAPI(
        title="seqsuite",
        summary="Trained seqsuite runs over HTTP: predict and generate.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(RequestFailed, _failed)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _bug)
    app.add_api_route("/healthz", service.health, methods=["GET"], summary="Liveness and load")
    app.add_api_route("/v1/models", Models(service).list, methods=["GET"], summary="Served runs")
    for run in runs:
        for route in run.routes:
            handler = RunRoute(service, run, route)
            app.add_api_route(
                f"/v1/{run.name}/{route}",
                handler.answer,
                methods=["POST"],
                summary=f"{run.task.name}: {route}",
                description=_description(run, route),
                openapi_extra=_request_schema(run, route),
                tags=[run.name],
            )
    return app


class RunRoute:
    """``POST /v1/{run}/{route}`` for one run."""

    def __init__(self, service: Service, run: ServedRun, route: str):
        self.service, self.run, self.route = service, run, route

    async def answer(self, request: Request) -> Any:
        self.service.in_flight += 1
        try:
            if self.route == "predict":
                answer = await self.service.predict(self.run, request)
            else:
                answer = await self.service.generate(self.run, request)
            # an answer is plain JSON already: skip FastAPI's encoder, the costliest step
            return answer if isinstance(answer, StreamingResponse) else Answer(answer)
        finally:
            self.service.in_flight -= 1


class Models:
    def __init__(self, service: Service):
        self.service = service

    def list(self) -> dict[str, Any]:
        return {"models": [run.describe() for run in self.service.runs.values()]}


def _description(run: ServedRun, route: str) -> str:
    if route == "generate":
        return (
            'Body: `prompt`, `length`, `temperature`, `top_k`, `seed`; `"stream": true` '
            "sends Server-Sent Events (`piece` ... `done`), else one JSON answer."
        )
    return f"Body: what task `{run.task.name}` takes (see the example)."


def _request_schema(run: ServedRun, route: str) -> dict[str, Any]:
    example = run.task.serve_examples.get(route, {"inputs": ["..."]})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }
    }


async def _failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestFailed)
    return error(exc.status, exc.message, exc.field)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return error(500, "internal error (a bug: see the server's log)")


def _version() -> str:
    from .. import __version__

    return __version__
