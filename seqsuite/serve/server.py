"""Running the API under uvicorn, in one process or several (``--workers``).

Each worker process loads the runs itself (``SEQSUITE_SERVE`` carries what to load to
the workers uvicorn starts). SIGTERM or Ctrl-C: uvicorn stops accepting connections,
answers the requests in flight (up to the request timeout), then the batchers stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import uvicorn

from ..errors import UserError
from .app import ServeSettings, create_app
from .runs import load_runs

ENVIRONMENT = "SEQSUITE_SERVE"
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start


def serve(
    run_dirs: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    threads: int = 0,
    settings: ServeSettings | None = None,
    log_level: str = "info",
) -> None:
    """Load ``run_dirs`` and answer on ``host:port`` until SIGTERM / Ctrl-C."""
    settings = settings or ServeSettings()
    check(workers, port, settings)
    check_address(host, port)
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        # nothing here reads the client's address: uvicorn's X-Forwarded-For layer
        # around every request would be work for no one
        "proxy_headers": False,
        "timeout_graceful_shutdown": int(settings.timeout_s) + 5,
    }
    if workers > 1:
        serve_in_workers(run_dirs, workers, threads, settings, config)
        return
    set_threads(threads)
    app = create_app(load_runs(run_dirs), settings)
    server = DrainingServer(uvicorn.Config(app, **config))
    server.run()
    if signal.SIGINT in server.signals:
        raise KeyboardInterrupt  # exit 130, as every interrupted command


def serve_in_workers(
    run_dirs: list[str], workers: int, threads: int, settings: ServeSettings, config: dict
) -> None:
    """uvicorn's supervisor with ``workers`` processes, each loading the runs itself.

    uvicorn starts a worker that failed again, for ever: a run that cannot be served is
    found here once, before any worker starts (one line, exit 2). A run that breaks after
    that check (deleted or replaced meanwhile) makes the worker that finds it write why
    to ``failure`` and stop the supervisor; the same one line is then raised here."""
    load_runs(run_dirs)
    with tempfile.TemporaryDirectory(prefix="seqsuite-serve-") as folder:
        failure = Path(folder) / "failure"
        os.environ[ENVIRONMENT] = json.dumps(
            {
                "runs": run_dirs,
                "threads": threads,
                "settings": asdict(settings),
                "failure": str(failure),
            }
        )
        # a worker loads PyTorch and the runs before it answers uvicorn's health check:
        # seconds on a busy machine, more than uvicorn's 5 s
        uvicorn.run(
            "seqsuite.serve.server:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=120,
            **config,
        )
        if failure.exists():
            raise UserError(failure.read_text(encoding="utf-8").strip())


def check_address(host: str, port: int) -> None:
    """``host:port`` can be listened on, found before the runs are loaded (uvicorn would
    find it after, and exit 3 with its own log lines)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise UserError(f"--host {host}: not an address of this machine ({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            hint = "; choose another (--port 0: any free one)" if port else ""
            raise UserError(f"--host {host} --port {port}: {err.strerror}{hint}") from None


class DrainingServer(uvicorn.Server):
    """uvicorn's server, but a SIGTERM that drained every request ends with exit code 0
    (uvicorn raises the signal again once it has shut down, so the process would die of
    it); SIGINT ends as an interrupted command does (130)."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.signals: list[int] = []

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.signals.append(sig)
        super().handle_exit(sig, frame)


def app_from_environment() -> Any:
    """A worker's application, from what :func:`serve` put in ``SEQSUITE_SERVE``. A run
    that no longer loads stops the whole server (see :func:`serve_in_workers`) instead of
    a traceback and a restart of this worker without end."""
    given = json.loads(os.environ[ENVIRONMENT])
    set_threads(given["threads"])
    try:
        runs = load_runs(given["runs"])
    except UserError as err:
        Path(given["failure"]).write_text(f"{err}\n", encoding="utf-8")
        os.kill(os.getppid(), signal.SIGTERM)
        raise SystemExit(STARTUP_FAILURE) from None
    return create_app(runs, ServeSettings(**given["settings"]))


def set_threads(threads: int) -> None:
    """PyTorch's threads per worker: ``threads``, or 1 when requests run side by side
    (each batch is small; one thread per request stream uses the cores better)."""
    from ..threads import set_threads as set_torch_threads

    set_torch_threads(threads or 1)


def check(workers: int, port: int, settings: ServeSettings) -> None:
    """Options out of range: one line naming the option."""
    if not 1 <= workers <= 64:
        raise UserError(f"--workers: got {workers}, expected 1 to 64")
    if not 0 <= port <= 65535:
        raise UserError(f"--port: got {port}, expected 0 to 65535")
    if not 1 <= settings.max_batch <= 4096:
        raise UserError(f"--max-batch: got {settings.max_batch}, expected 1 to 4096")
    if not 0 <= settings.max_wait_ms <= 10_000:
        raise UserError(f"--max-wait-ms: got {settings.max_wait_ms}, expected 0 to 10000")
    if not 0 < settings.timeout_s <= 3600:
        raise UserError(f"--timeout: got {settings.timeout_s}, expected more than 0, at most 3600")
