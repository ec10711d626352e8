"""Dynamic batching: concurrent requests to one run answered by one call of its task.

Requests wait in a queue; a loop takes what is there (up to ``max_batch``), waits up to
``max_wait`` seconds for more while the batch is short and other requests are still
arriving (their bodies being read), and hands the batch to the run's one inference
thread (``Task.predict_batch``). While a batch runs, the next one gathers, so under load
batches fill by themselves, and a lone request never waits. A batch that fails is answered one request at a time, so that one
request's error never becomes its neighbours'.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import threads
from .runs import ServedRun


@dataclass
class _Waiting:
    request: Any
    answer: asyncio.Future = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Batcher:
    """One run's queue, gathering loop and inference thread."""

    def __init__(self, run: ServedRun, max_batch: int, max_wait: float, max_queue: int):
        self.run = run
        self.max_batch, self.max_wait = max_batch, max_wait
        self.queue: asyncio.Queue[_Waiting] = asyncio.Queue(maxsize=max_queue)
        self.thread = concurrent.futures.ThreadPoolExecutor(
            1, f"predict-{run.name}", initializer=threads.in_this_thread
        )
        self.loop_task: asyncio.Task | None = None
        self.batches = 0  # answered batches, and the requests in them (for /healthz)
        self.requests = 0
        self.arriving = 0  # requests whose bodies are being read, not queued yet

    def start(self) -> None:
        self.loop_task = asyncio.get_running_loop().create_task(self._gather())

    async def stop(self) -> None:
        if self.loop_task is not None:
            self.loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.loop_task
        self.thread.shutdown(wait=True)

    def submit(self, request: Any) -> asyncio.Future:
        """Queue a parsed request; the future holds its answer (or its exception).
        Raises :class:`asyncio.QueueFull` when ``max_queue`` requests already wait."""
        waiting = _Waiting(request)
        self.queue.put_nowait(waiting)
        return waiting.answer

    async def _gather(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0 or not self.arriving:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            live = [w for w in batch if not w.answer.done()]  # timed out while waiting
            if live:
                self.batches, self.requests = self.batches + 1, self.requests + len(live)
                answers = await loop.run_in_executor(self.thread, self._answer, live)
                for waiting, (ok, value) in zip(live, answers, strict=True):
                    if not waiting.answer.done():
                        (waiting.answer.set_result if ok else waiting.answer.set_exception)(value)

    def _answer(self, batch: list[_Waiting]) -> list[tuple[bool, Any]]:
        """(ok, answer or exception) per request, on the inference thread."""
        try:
            answers = self._predict([w.request for w in batch])
            if len(answers) != len(batch):
                raise RuntimeError(
                    f"task {self.run.task.name!r}: predict_batch gave {len(answers)} answers "
                    f"to {len(batch)} requests"
                )
            return [(True, a) for a in answers]
        except Exception as err:  # noqa: BLE001 - isolate the request that failed
            if len(batch) == 1:
                return [(False, err)]
            return [self._answer([w])[0] for w in batch]

    def _predict(self, requests: list[Any]) -> list[dict[str, Any]]:
        run = self.run
        with torch.inference_mode():
            return run.task.predict_batch(run.ctx, run.model, requests)
