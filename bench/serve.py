"""Load test of ``seqsuite serve``: throughput and latency against the in-process ceiling.

    python bench/serve.py [--requests 2000] [--soak 10000] [--write]

Trains a forecast and a sentiment run (the tasks' default models, one quick epoch: the
size of the model matters here, not its quality), starts ``seqsuite serve`` on
127.0.0.1 in a subprocess and drives it with a bounded client (a fixed count of requests
at a set concurrency, then it stops; a lean keep-alive HTTP/1.1 client, :class:`Connection`). For each task and concurrency 1, 8 and 32:
requests/s and p50/p99 latency, beside the ceiling: the same requests answered
in-process by one call of the task's ``predict_batch``. Then a soak of ``--soak``
requests (both tasks, 5 % of them malformed) with the server's resident memory before
and after, and the count of 5xx answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import httpx  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

CONCURRENCY = (1, 8, 32)
TEXTS = [
    "what a lovely day, the sun is out",
    "worst service ever, never going back",
    "the match is on tonight",
    "so happy for you both!!",
    "this update broke everything again",
    "meh, it was ok I guess",
]


def train(root: Path, combine: list[str]) -> dict[str, Path]:
    """Default models of forecast and sentiment, one quick epoch each. The forecast's
    classical members (``combine``; none by default) are refitted on every request's series
    (ETS, SARIMA and Theta take about 0.1-1 s each on a CPU), so with them the figures
    measure statsmodels, not serving; the LSTM alone is what the server itself adds to."""
    import seqsuite

    runs = {}
    for task in ("forecast", "sentiment"):
        overrides = {"task": {"combine": combine}} if task == "forecast" else None
        result = seqsuite.run(
            task, quick=True, epochs=1, quiet=True, out=root / task, overrides=overrides
        )
        runs[task] = Path(result.run_dir)
    return runs


def bodies(runs: dict[str, Path]) -> dict[str, list[dict]]:
    """Valid request bodies per task: forecast series of the run's look-back and more."""
    from seqsuite.rundir import read_state

    lookback = read_state(runs["forecast"])["state"]["lookback"]
    rng = random.Random(0)
    series = [
        [300 + 5 * t + 20 * rng.random() + 30 * ((t % 12) < 6) for t in range(lookback + 24)]
        for _ in range(64)
    ]
    return {
        "forecast": [{"series": s} for s in series],
        "sentiment": [{"texts": [rng.choice(TEXTS)]} for _ in range(64)],
    }


MALFORMED = [
    ("forecast", b'{"series": "not a list"}'),
    ("forecast", b'{"series": [1, 2, 3'),
    ("sentiment", b'{"texts": [1, 2]}'),
    ("sentiment", b"[]"),
    ("sentiment", b'{"texts": []}'),
]


def ceiling(run_dir: Path, body_list: list[dict], count: int) -> dict[int, float]:
    """Requests/s answered in-process by one ``predict_batch`` call over ``count`` requests:
    the better of one PyTorch thread and one per core (a served model's matrices at batch
    2,000 use both cores; the server's workers may too), so that no worker count is
    measured against a ceiling lowered for it."""
    from seqsuite.assembly import load

    loaded = load(run_dir, quiet=True)
    task, ctx, model = loaded.task, loaded.ctx, loaded.model
    requests = [task.parse_request(ctx, body_list[k % len(body_list)]) for k in range(count)]
    rates = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            task.predict_batch(ctx, model, requests[:64])  # warm-up
            times = []
            for _ in range(3):
                started = time.perf_counter()
                task.predict_batch(ctx, model, requests)
                times.append(time.perf_counter() - started)
        rates[threads] = count / statistics.median(times)
    torch.set_num_threads(1)
    return rates


async def drive(url: str, jobs: list[tuple[str, bytes]], concurrency: int) -> dict:
    """Send ``jobs`` ((path, body) pairs) with ``concurrency`` connections each sending one
    request at a time, then stop."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(jobs))
    host, port = url.removeprefix("http://").split(":")
    connections = [Connection(host, int(port)) for _ in range(concurrency)]

    async def worker(connection: Connection) -> None:
        while queue:
            path, body = queue.pop()
            started = time.perf_counter()
            status = await connection.post(path, body)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(jobs) / seconds,
        "p50": 1000 * latencies[len(latencies) // 2],
        "p99": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "statuses": statuses,
    }


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a JSON body, read the status and a
    ``content-length`` answer. The client shares the machine's two cores with the server,
    so it is kept to what the load test needs: about 33 us of CPU per request under
    uvloop, against 125-160 us for aiohttp's client (measured on the development
    machine); a general client (httpx) is what the tests use."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        answer = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        length = answer.find(b"\r\ncontent-length:")
        if length < 0:
            raise RuntimeError(f"an answer without content-length: {answer[:200]!r}")
        await self.reader.readexactly(int(answer[length + 17 : answer.index(b"\r\n", length + 2)]))
        if b"\r\nconnection: close" in answer:
            self.close()
        return int(answer[9:12])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


def client_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "a keep-alive HTTP/1.1 client on asyncio streams"
    return f"a keep-alive HTTP/1.1 client on asyncio streams, uvloop {uvloop.__version__}"


def run_client(coroutine) -> dict:
    """``asyncio.run`` on uvloop where it is installed (the serve extra brings it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def rss_mb(pid: int) -> float:
    """Resident memory of the server: its process and its worker processes (``--workers``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0.0
    for process in [pid, *map(int, children)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def start(
    runs: dict[str, Path], max_batch: int, max_wait_ms: float, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "seqsuite",
        "serve",
        *map(str, runs.values()),
        "--port",
        str(port),
    ]
    command += ["--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def jobs_for(task: str, name: str, body_list: list[dict], count: int) -> list[tuple[str, bytes]]:
    import json

    path = f"/v1/{name}/predict"
    return [(path, json.dumps(body_list[k % len(body_list)]).encode()) for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per task and concurrency")
    parser.add_argument("--soak", type=int, default=10_000, help="0: no soak")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--combine", default="", help="forecast: classical members, e.g. ets,sarima,theta"
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    combine = [m for m in args.combine.split(",") if m]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        runs = train(Path(root), combine)
        body_lists = bodies(runs)
        rates = {t: ceiling(runs[t], body_lists[t], args.requests) for t in runs}
        ceilings = {t: max(r.values()) for t, r in rates.items()}
        process, url = start(runs, args.max_batch, args.max_wait_ms, args.workers)
        try:
            lines = table(url, runs, body_lists, ceilings, args.requests)
            lines += ["", ceiling_line(rates)]
            if args.soak:
                lines += soak(url, process.pid, runs, body_lists, args.soak)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    load = os.getloadavg()
    header = [
        f"Command: `python bench/serve.py --requests {args.requests} --soak {args.soak}"
        + (f" --combine {args.combine}" if combine else "")
        + (f" --workers {args.workers}" if args.workers != 1 else "")
        + " --write` "
        f"({date.today()}, {os.cpu_count()} cores, load average {load[0]:.1f} at the end; server: "
        f"{args.workers} worker process{'es' if args.workers > 1 else ''} of 1 thread, --max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms:g}; "
        f"client: {client_name()} on the same machine; the forecast run "
        + (f"combines the LSTM with {', '.join(combine)})" if combine else "is the LSTM alone)"),
        "",
    ]
    text = "\n".join(header + lines)
    print(text)
    if args.write:
        replace_section("serve" if args.workers == 1 else f"serve-workers{args.workers}", text)


def ceiling_line(rates: dict[str, dict[int, float]]) -> str:
    """The ceilings at each thread count (the table takes the better)."""
    parts = [
        f"{task} "
        + " / ".join(f"{rps:,.0f} ({n} thread{'s' if n > 1 else ''})" for n, rps in r.items())
        for task, r in rates.items()
    ]
    return "In-process ceilings, requests/s: " + "; ".join(parts) + "."


def table(url, runs, body_lists, ceilings, count) -> list[str]:
    lines = [
        "| task | concurrency | requests/s | p50 ms | p99 ms | p99 / p50 | in-process ceiling, requests/s | share of the ceiling | 5xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, run_dir in runs.items():
        jobs = jobs_for(task, run_dir.name, body_lists[task], count)
        run_client(drive(url, jobs[:200], 8))  # warm-up
        for concurrency in CONCURRENCY:
            r = run_client(drive(url, jobs, concurrency))
            fives = sum(n for s, n in r["statuses"].items() if s >= 500)
            lines.append(
                f"| {task} | {concurrency} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                f"{r['p99'] / r['p50']:.2f} | {ceilings[task]:.0f} | {100 * r['rps'] / ceilings[task]:.0f} % | {fives} |"
            )
            print(lines[-1], flush=True)
    return lines


def soak(url, pid, runs, body_lists, count) -> list[str]:
    rng = random.Random(1)
    jobs = []
    for _ in range(count):
        if rng.random() < 0.05:
            task, body = rng.choice(MALFORMED)
            jobs.append((f"/v1/{runs[task].name}/predict", body))
        else:
            task = rng.choice(list(runs))
            jobs.append(
                jobs_for(task, runs[task].name, body_lists[task], 1 + rng.randrange(64))[-1]
            )
    run_client(drive(url, jobs[:500], 8))  # warm-up: caches and allocator pools filled
    before = rss_mb(pid)
    r = run_client(drive(url, jobs, 8))
    after = rss_mb(pid)
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r["statuses"].items()))
    fives = sum(n for s, n in r["statuses"].items() if s >= 500)
    return [
        "",
        f"Soak: {count:,} requests at concurrency 8, both tasks, "
        f"{sum(n for s, n in r['statuses'].items() if s != 200):,} malformed (5 % drawn): "
        f"answers {statuses}; **{fives} 5xx**. Server memory (RSS) {before:.0f} MB after a "
        f"500-request warm-up, {after:.0f} MB after the {count:,}: "
        f"**{100 * (after - before) / before:+.1f} %**.",
    ]


if __name__ == "__main__":
    main()
