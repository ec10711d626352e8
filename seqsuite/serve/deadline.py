"""A request's time limit that costs one timer, not a framework of them.

``asyncio.timeout`` (and an ``asynccontextmanager`` around it) is written in Python: on
the development machine its two uses per predict request (the body, the answer) took
about a tenth of the event loop's time under load (py-spy). :class:`Deadline` does the
same with one timer of the loop and a plain ``with``: when the time is up it cancels the
request's task, and on the way out turns that cancellation (and only that one) into the
request's error, as ``asyncio.timeout`` turns it into ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Deadline:
    """``with Deadline(seconds, failure):`` around awaits of one task; ``failure`` (an
    exception) is raised in their place when they are not done within ``seconds``."""

    __slots__ = ("seconds", "failure", "task", "timer", "expired")

    def __init__(self, seconds: float, failure: BaseException):
        self.seconds, self.failure = seconds, failure
        self.task: asyncio.Task | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.expired = False

    def __enter__(self) -> Deadline:
        self.task = asyncio.current_task()
        if self.task is None:
            raise RuntimeError("a Deadline is entered inside a task")
        self.timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)
        return self

    def _expire(self) -> None:
        self.expired = True
        self.task.cancel()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool:
        self.timer.cancel()
        if self.expired and kind is not None and issubclass(kind, asyncio.CancelledError):
            # ours, unless the task was also cancelled from outside (a shutdown)
            if self.task.uncancel() == 0:
                raise self.failure from None
        return False
