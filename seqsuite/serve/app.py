"""The HTTP API: FastAPI routes over the loaded runs.

``GET /healthz``, ``GET /v1/models``, and per run ``POST /v1/{run}/predict`` (dynamically
batched, :mod:`.batching`) and ``POST /v1/{run}/generate`` (``"stream": true`` for
Server-Sent Events, :mod:`.streaming`); OpenAPI docs at ``/docs``.

:func:`create_app` puts the predict fast path (:mod:`.fastpath`) in front: JSON predict
requests are answered there, through the same :class:`.service.Service`; FastAPI still
documents them and takes their multipart uploads.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from .fastpath import PredictFastPath
from .runs import ServedRun
from .service import (
    RequestFailed,
    ServeSettings,
    Service,
    encode,
    error_content,
    read_json,
    refuse_declared_over,
    within,
)

log = logging.getLogger("seqsuite.serve")


class Answer(JSONResponse):
    """A JSON answer encoded by orjson where it is installed (the serve extra brings it):
    a forecast with its quantiles is about a hundred floats, 55 us in the standard
    library's encoder and 3 us in orjson's on the development machine. Anything orjson
    will not take goes to the standard encoder, as before."""

    def render(self, content: Any) -> bytes:
        return encode(content)


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_content(message, field), status_code=status)


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> dict[str, Any]:
    """The request's JSON object (or a multipart form's files, base64-encoded, under
    their field names), read no further than ``max_bytes`` and within ``timeout_s``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        refuse_declared_over(request.scope, max_bytes)
        with within(timeout_s):
            return await _form(request, max_bytes)
    return await read_json(request.scope, request.receive, max_bytes, timeout_s)


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


def create_app(runs: list[ServedRun], settings: ServeSettings | None = None) -> PredictFastPath:
    """The ASGI application serving ``runs`` (loaded already, so that a bad run directory
    fails before the port opens): the predict fast path in front of the FastAPI
    application (its ``api``)."""
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
    return PredictFastPath(app, service)


class RunRoute:
    """``POST /v1/{run}/{route}`` for one run."""

    def __init__(self, service: Service, run: ServedRun, route: str):
        self.service, self.run, self.route = service, run, route

    async def answer(self, request: Request) -> Any:
        self.service.in_flight += 1
        settings = self.service.settings
        try:
            if self.route == "predict":
                body = read_body(request, settings.max_body_bytes, settings.timeout_s)
                answer = await self.service.predict(self.run, body)
            else:
                body = await read_body(request, settings.max_body_bytes, settings.timeout_s)
                answer = await self.service.generate(self.run, request, body)
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
