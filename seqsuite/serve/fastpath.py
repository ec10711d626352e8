"""JSON ``POST /v1/{run}/predict`` answered on ASGI directly, in front of FastAPI.

It is the request a server sees most, and the one whose own work is smallest: with
dynamic batching a forecast or a sentiment label costs well under 100 us of model time.
Through FastAPI the framework's layers around it (exception middlewares wrapping ``send``,
routing, the ``Request`` object, query parsing) cost several times what uvicorn itself
does: on the development machine a bare ASGI app answered 24,000 requests/s under
``wrk -c32``, a FastAPI route returning the same bytes 7,700. This path reads the body
(bounded), hands it to the same :meth:`.Service.predict` and writes the same JSON answers
and errors. Everything else (multipart uploads, ``/generate``, ``/docs``, ``/healthz``)
goes to FastAPI, which also documents these routes in OpenAPI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from .runs import ServedRun
from .service import RequestFailed, Service, encode, error_content, header, read_json

log = logging.getLogger("seqsuite.serve")

JSON_HEADERS = [(b"content-type", b"application/json")]


class PredictFastPath:
    """The ASGI application ``seqsuite serve`` runs: predict requests with a JSON body
    here, the rest to ``api``."""

    def __init__(self, api: FastAPI, service: Service):
        self.api, self.service = api, service
        self.routes: dict[str, ServedRun] = {
            f"/v1/{name}/predict": run
            for name, run in service.runs.items()
            if "predict" in run.routes
        }

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        run = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if run is None or scope["method"] != "POST" or _multipart(scope):
            await self.api(scope, receive, send)
            return
        status, content = await self._answer(run, scope, receive)
        try:
            body = encode(content)
        except (TypeError, ValueError):  # a task answered what JSON cannot hold
            log.exception("answer of %s not encodable as JSON", scope["path"])
            status, body = 500, encode(error_content("internal error (an answer not JSON)"))
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, run: ServedRun, scope: dict, receive: Any) -> tuple[int, Any]:
        service = self.service
        service.in_flight += 1
        try:
            settings = service.settings
            body = read_json(scope, receive, settings.max_body_bytes, settings.timeout_s)
            return 200, await service.predict(run, body)
        except RequestFailed as failed:
            return failed.status, error_content(failed.message, failed.field)
        except Exception:  # a bug: logged with its traceback, the client told
            log.exception("unexpected error on %s", scope["path"])
            return 500, error_content("internal error (a bug: see the server's log)")
        finally:
            service.in_flight -= 1


def _multipart(scope: dict) -> bool:
    return header(scope, b"content-type").startswith("multipart/")
