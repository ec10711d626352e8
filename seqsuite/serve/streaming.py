"""Generation as it comes: a task's ``generate_stream`` run on its own thread, its
pieces handed to the event loop one by one, sent as Server-Sent Events.

The thread checks a stop flag before every piece: when the client disconnects (the
response is cancelled), the time limit passes or the server shuts down, it stops at the
next step and the model's state is dropped; nothing is left running.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import torch

from .. import threads
from ..rundir import clean_json
from .runs import ServedRun

_END = object()


class GenerationStream:
    """The pieces of one generation, produced on a thread, read asynchronously."""

    def __init__(self, run: ServedRun, options: dict[str, Any], deadline: float):
        self.run, self.options, self.deadline = run, options, deadline
        self.loop = asyncio.get_running_loop()
        self.pieces: asyncio.Queue[Any] = asyncio.Queue()
        self.stopped = threading.Event()
        self.made = 0
        self.thread = threading.Thread(
            target=self._produce, name=f"generate-{run.name}", daemon=True
        )

    def start(self) -> GenerationStream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _produce(self) -> None:
        """On the thread: every piece (or the exception that ended it), then the end."""
        threads.in_this_thread()
        try:
            for piece in self._pieces():
                if self.stopped.is_set():
                    break
                if time.monotonic() > self.deadline:
                    raise TimeoutError("generation took longer than the request timeout")
                self.made += 1
                self._hand(piece)
        except Exception as err:  # noqa: BLE001 - handed to the reader, which reports it
            self._hand(err)
        finally:
            self._hand(_END)

    def _pieces(self) -> Iterator[dict[str, Any]]:
        run = self.run
        with torch.inference_mode():
            yield from run.task.generate_stream(run.ctx, run.model, self.options)

    def _hand(self, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server is gone
            self.stopped.set()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self.pieces.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event: ``event: NAME`` and its data as one line of JSON."""
    line = json.dumps(clean_json(data), separators=(",", ":"), default=str, allow_nan=False)
    return f"event: {event}\ndata: {line}\n\n"


def join_pieces(pieces: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole generation as one answer: ``text`` concatenated, every other field gathered
    into a list under its plural (``{"note": ...}`` -> ``{"notes": [...]}``)."""
    joined: dict[str, Any] = {}
    for piece in pieces:
        for key, value in piece.items():
            if key == "text":
                joined["text"] = joined.get("text", "") + value
            else:
                joined.setdefault(f"{key}s", []).append(value)
    return joined
