"""What the routes share: the loaded runs, their batchers, the request counters, and the
JSON errors.

Every error is a JSON object ``{"error": {"message": ..., "field": ...}}``: a bad request
is a 4xx naming its field (413 too large, 400 not JSON, 422 a wrong field, 404 an
unknown route), 503 when the queue is full, 504 past the request timeout; a 500 only
for a bug, logged with its traceback. Both front doors, FastAPI's routes (:mod:`.app`)
and the predict fast path (:mod:`.fastpath`), answer through :class:`Service`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from .. import limits
from ..boundary import describe
from ..errors import FieldError, UserError
from ..rundir import clean_json
from .batching import Batcher
from .deadline import Deadline
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


def encode(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON, as FastAPI's ``JSONResponse`` writes it; NaN as
    null and a task's numpy or PyTorch numbers as numbers (:func:`.rundir.clean_json`)."""
    if orjson is not None:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            pass
    content = clean_json(content)
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def error_content(message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "field": field}}


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

    async def predict(self, run: ServedRun, body: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """``run``'s answer to one request whose JSON object ``body`` gives (read from
        FastAPI's request or straight from ASGI, :mod:`.fastpath`)."""
        batcher = self.batchers[run.name]
        batcher.arriving += 1  # a batch waits for more only while some are on their way
        try:
            parsed = call_task(run.task.parse_request, run.ctx, await body)
            answer = batcher.submit(parsed)
        except asyncio.QueueFull:
            raise RequestFailed(503, "the server is busy; try again shortly") from None
        finally:
            batcher.arriving -= 1
        timeout_s = self.settings.timeout_s
        try:
            with Deadline(timeout_s, RequestFailed(504, f"no answer within {timeout_s:g} s")):
                return await answer
        except (UserError, *INPUT_ERRORS) as err:
            raise as_request_error(err) from None

    # -- generate -----------------------------------------------------------------------

    async def generate(self, run: ServedRun, request: Request, body: dict[str, Any]) -> Any:
        """One answer, or (``"stream": true``) Server-Sent Events that stop when the
        client of ``request`` goes away."""
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


async def read_json(scope: dict, receive: Any, max_bytes: int, timeout_s: float) -> dict[str, Any]:
    """An ASGI request's JSON object, read no further than ``max_bytes`` and for no
    longer than ``timeout_s`` (a body that stops coming would hold its request forever)."""
    refuse_declared_over(scope, max_bytes)
    raw = bytearray()
    with within(timeout_s):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestFailed(400, "the client went away before its body was read", "body")
            raw += message.get("body", b"")
            if len(raw) > max_bytes:
                raise too_large(max_bytes)
            if not message.get("more_body", False):
                return json_object(raw)


def within(timeout_s: float) -> Deadline:
    """Reading a request's body: 408 when it has not all come within ``timeout_s``."""
    return Deadline(
        timeout_s, RequestFailed(408, f"the body did not arrive within {timeout_s:g} s", "body")
    )


def refuse_declared_over(scope: dict, max_bytes: int) -> None:
    """A body whose declared length is over ``max_bytes`` is refused before any is read."""
    declared = header(scope, b"content-length")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes, int(declared))


def header(scope: dict, name: bytes) -> str:
    """An ASGI request's header ``name`` (lower-case bytes), lower-cased; "" if absent."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1").strip().lower()
    return ""


def too_large(max_bytes: int, declared: int | None = None) -> RequestFailed:
    if declared is not None:
        return RequestFailed(413, f"body of {declared:,} bytes; at most {max_bytes:,}", "body")
    return RequestFailed(413, f"body over {max_bytes:,} bytes", "body")


def json_object(raw: bytes | bytearray) -> dict[str, Any]:
    """A request body's JSON object. orjson reads it where installed (a few microseconds
    against tens in the standard library); what orjson refuses goes to the standard
    library, so that both read the same bodies (``NaN``, ``1e400``, lone surrogates).
    One difference stays: orjson reads an integer past 64 bits as a float."""
    try:
        body = orjson.loads(raw or b"{}") if orjson is not None else json.loads(raw or b"{}")
    except ValueError:  # orjson's JSONDecodeError is one too
        body = _standard_json(raw)
    except RecursionError as err:
        raise RequestFailed(400, f"not valid JSON ({err})", "body") from None
    if not isinstance(body, dict):
        raise RequestFailed(422, f"expected a JSON object, got {type(body).__name__}", "body")
    return body


def _standard_json(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError) as err:
        raise RequestFailed(400, f"not valid JSON ({err})", "body") from None


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
