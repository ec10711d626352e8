"""The CUDA paths of the installed wheel, in one call on a lent GPU machine.

    python bench/gpu_check.py OUT [STEP ...]      # STEP: env forecast textgen generate ...

Run from outside the checkout (so that the installed ``seqsuite`` is imported, not the
source tree), with the benchmark data in ``SEQSUITE_GPU_DATA`` (default: ``../shared/data``
beside this checkout). Each step is a subprocess with a time limit; results go to
``OUT/gpu.json`` as they come (a step that fails is recorded and the next one runs) and
every command's output to ``OUT/log.txt``. ``DEV=cpu DRY=1`` rehearses the script on a
machine without a GPU (a few seconds of training per run); ``NO_CPU=1`` skips the CPU
comparison run. The figures are in docs/results.md ("On a GPU").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

OUT = Path(sys.argv[1])
ONLY = sys.argv[2:]
W = Path("/tmp/w")
REPO = Path(__file__).resolve().parent.parent
D = Path(os.environ.get("SEQSUITE_GPU_DATA", REPO.parent / "shared" / "data"))
RESULTS: dict = {}
LOG = open(OUT / "log.txt", "a")
PY = [sys.executable, "-m", "seqsuite"]
DEV = os.environ.get("DEV", "cuda")
DRY = bool(os.environ.get("DRY"))


def tb(seconds: int) -> str:
    return "3" if DRY else str(seconds)


def save() -> None:
    (OUT / "gpu.json").write_text(json.dumps(RESULTS, indent=1, default=str))


def sh(name: str, cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    start = time.time()
    LOG.write(f"\n===== {name}: {' '.join(map(str, cmd))}\n")
    LOG.flush()
    try:
        p = subprocess.run(
            list(map(str, cmd)),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", str(e.stdout or ""), str(e.stderr or "")
    LOG.write(out[-6000:] + "\n--- stderr\n" + err[-6000:] + "\n")
    LOG.flush()
    row = {"rc": rc, "seconds": round(time.time() - start, 1)}
    if rc != 0:
        row["err"] = (err or out)[-1500:]
    return row


def metrics(run: Path) -> dict:
    f = run / "metrics.json"
    if not f.exists():
        return {}
    m = json.loads(f.read_text())
    keep = [
        "device",
        "precision",
        "epochs",
        "best_epoch",
        "stop_reason",
        "train_seconds",
        "samples_per_second",
        "timesteps_per_second",
        "peak_memory_mb",
        "threads",
        "primary_metric",
    ]
    row = {k: m.get(k) for k in keep}
    row["test"] = m.get("test")
    row["baselines"] = {
        k: v.get(m["primary_metric"]) for k, v in (m.get("baselines") or {}).items()
    }
    return row


def run_task(name: str, args: list, timeout: float) -> None:
    out = W / name
    row = sh(name, PY + ["run", *args, "--out", out, "--quiet"], timeout)
    row.update(metrics(out))
    RESULTS[name] = row
    save()


def env() -> None:
    RESULTS["env"] = {
        "smi": subprocess.run(
            ["sh", "-c", "nvidia-smi -L; nproc"], capture_output=True, text=True
        ).stdout,
        "versions": subprocess.run(
            [
                sys.executable,
                "-c",
                "import torch,torchaudio;print(torch.__version__, torchaudio.__version__,"
                "torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.get_device_name(0),"
                "torch.cuda.is_bf16_supported())",
            ],
            capture_output=True,
            text=True,
        ).stdout,
    }
    row = sh("doctor", PY + ["doctor", "--json"], 60)
    RESULTS["doctor"] = row
    save()


def forecast() -> None:
    run_task(
        "forecast_cuda", ["forecast", "--device", DEV, *(["--epochs", "2"] if DRY else [])], 120
    )
    run_task(
        "forecast_cpu", ["forecast", "--device", "cpu", *(["--epochs", "2"] if DRY else [])], 120
    )


def textgen() -> None:
    data = D / "tinyshakespeare.txt"
    base = ["textgen", "--data", data]
    run_task("textgen_cuda_auto", [*base, "--device", DEV, "--time-budget", tb(25)], 120)
    for p in ("fp32", "fp16"):
        run_task(
            f"textgen_cuda_{p}",
            [*base, "--device", DEV, "--time-budget", tb(10), "--set", f"train.precision={p}"],
            90,
        )
    if not os.environ.get("NO_CPU"):
        run_task("textgen_cpu", [*base, "--device", "cpu", "--time-budget", tb(10)], 120)


def generate() -> None:
    run = W / "textgen_cuda_auto"
    rows = {}
    for i in (1, 2):
        row = sh(
            f"generate{i}",
            PY
            + ["generate", run, "--length", "3000", "--seed", "1", "--out", W / f"sample{i}.txt"],
            90,
        )
        rows[f"run{i}"] = row
    a, b = (W / "sample1.txt"), (W / "sample2.txt")
    rows["same_seed_same_text"] = a.exists() and b.exists() and a.read_text() == b.read_text()
    rows["sample_head"] = a.read_text()[:300] if a.exists() else None
    RESULTS["generate"] = rows
    code = r"""
import json, time, torch, sys, os
DEV = os.environ.get('DEV', 'cuda')
sys.path.insert(0, os.environ["REPO_TESTS"])
from test_stepping import language_model
from seqsuite import stepping
from seqsuite.token_lm import generate
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.adapters import TokenInput
from seqsuite.heads import StepHead
from seqsuite.model import SequenceModel
out = {}
for cell in ("lstm", "gru"):
    m = language_model(cell).to(DEV)
    same = []
    for seed in (0, 1, 2):
        kw = {"temperature": 1.0, "top_k": 0, "seed": seed, "banned": (0, 1)}
        same.append(generate(m, [2, 3, 4], 300, **kw) == generate(m, [2, 3, 4], 300, fast=False, **kw))
    out[cell + "_small_same"] = same
    out[cell + "_stepper"] = type(stepping.stepper(m)).__name__
torch.manual_seed(0)
cfg = BackboneConfig(cell="lstm", hidden_size=512, num_layers=2)
big = SequenceModel(TokenInput(65, 64), Backbone(64, cfg), StepHead(cfg.output_size, 65)).eval().to(DEV)
for fast in (True, False):
    generate(big, [2, 3], 50, seed=0, fast=fast)
    (torch.cuda.synchronize() if DEV == 'cuda' else None); t = time.perf_counter()
    s = generate(big, [2, 3], 2000, seed=0, fast=fast)
    (torch.cuda.synchronize() if DEV == 'cuda' else None); out[f"tokens_per_s_2x512_fast={fast}"] = round(2000 / (time.perf_counter() - t))
    out[f"sample_fast={fast}"] = s[:40]
out["2x512_same"] = out["sample_fast=True"] == out["sample_fast=False"]
print(json.dumps(out))
"""
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "REPO_TESTS": str(REPO / "tests")},
    )
    LOG.write("\n===== stepping\n" + p.stdout + p.stderr[-4000:])
    try:
        RESULTS["stepping"] = json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:
        RESULTS["stepping"] = {"rc": p.returncode, "err": p.stderr[-1500:]}
    save()


def sentiment() -> None:
    import csv

    path = W / "mr.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for label in ("pos", "neg"):
            for line in (D / f"rt-polarity.{label}").read_bytes().decode("latin-1").splitlines():
                w.writerow([line.strip(), label])
    run_task(
        "sentiment_cuda",
        ["sentiment", "--data", path, "--device", DEV, "--time-budget", tb(30)],
        150,
    )


def speech() -> None:
    rec = D / "fsdd" / "recordings"
    lines = ["path,label,split"]
    for f in sorted(rec.glob("*.wav")):
        digit, _, idx = f.stem.split("_")
        lines.append(f"{f},{digit},{'test' if int(idx) < 5 else 'train'}")
    (W / "fsdd.csv").write_text("\n".join(lines) + "\n")
    run_task(
        "speech_cuda",
        ["speech", "--data", W / "fsdd.csv", "--device", DEV, "--time-budget", tb(30)],
        180,
    )


def music() -> None:
    run_task(
        "music_cuda",
        [
            "music",
            "--data",
            D / "Nottingham.mat",
            "--device",
            DEV,
            "--set",
            "task.representation='pianoroll'",
            "--time-budget",
            tb(20),
        ],
        120,
    )


def export_eval() -> None:
    RESULTS["export_onnx"] = sh(
        "export",
        PY + ["export", W / "forecast_cuda", "--format", "onnx", "--out", W / "fc.onnx"],
        90,
    )
    RESULTS["eval_cuda_run"] = sh("eval", PY + ["eval", W / "textgen_cuda_auto", "--json"], 90)
    RESULTS["predict_cuda_run"] = sh(
        "predict", PY + ["predict", W / "sentiment_cuda", "a fine and moving film", "--json"], 60
    )
    save()


def serve() -> None:
    log = open(W / "serve.log", "w")
    p = subprocess.Popen(
        list(
            map(str, PY + ["serve", W / "forecast_cuda", W / "textgen_cuda_auto", "--port", "8123"])
        ),
        stdout=log,
        stderr=log,
    )
    row: dict = {}
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen("http://127.0.0.1:8123/healthz", timeout=1).read()
                break
            except Exception:
                time.sleep(0.5)
        models = json.loads(urllib.request.urlopen("http://127.0.0.1:8123/v1/models").read())
        row["models"] = [
            m.get("name") for m in models.get("models", models if isinstance(models, list) else [])
        ]
        names = row["models"]
        for name, route, body in (
            (
                names[0],
                "predict",
                {"series": [300.0 + i % 12 + i / 50 for i in range(200)], "horizon": 12},
            ),
            (names[1], "generate", {"prompt": "ROMEO:", "length": 200, "seed": 1}),
        ):
            req = urllib.request.Request(
                f"http://127.0.0.1:8123/v1/{name}/{route}",
                data=json.dumps(body).encode(),
                headers={"content-type": "application/json"},
            )
            t = time.perf_counter()
            try:
                answer = urllib.request.urlopen(req, timeout=30).read().decode()
            except urllib.error.HTTPError as e:
                answer = f"{e.code} {e.read().decode()}"
            row[route] = {"ms": round(1000 * (time.perf_counter() - t), 1), "answer": answer[:300]}
    except Exception as e:  # noqa: BLE001
        row["error"] = repr(e)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            row["exit"] = p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            row["exit"] = "killed"
        log.close()
        row["log"] = (W / "serve.log").read_text()[-1500:]
    RESULTS["serve"] = row
    save()


def tutorial() -> None:
    code = r"""
import json, time, numpy as np, torch, os
DEV = os.environ.get('DEV', 'cuda')
from seqsuite import BackboneConfig, SequenceRegressor, TrainConfig
np.random.seed(0); X = np.random.randn(100, 10, 1).astype("float32"); y = np.sin(np.mean(X, axis=1))
out = {}
for device in (DEV, "cpu"):
    for act in ("relu", "tanh"):
        times = []
        for rep in range(2):
            m = SequenceRegressor(1, 1, BackboneConfig(hidden_size=50, activation=act, init="keras"), device=device)
            cfg = TrainConfig(epochs=5 if os.environ.get("DRY") else 100, batch_size=32, lr=1e-3, clip_norm=0, patience=0)
            t = time.perf_counter(); m.fit(X, y, cfg); times.append(time.perf_counter() - t)
        out[f"{device}_{act}_fit_s"] = [round(x, 2) for x in times]
        out[f"{device}_{act}_mse"] = m.evaluate(X, y)
print(json.dumps(out))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=150)
    LOG.write("\n===== tutorial\n" + p.stdout + p.stderr[-4000:])
    try:
        RESULTS["tutorial"] = json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:
        RESULTS["tutorial"] = {"rc": p.returncode, "err": p.stderr[-1500:]}
    save()


STEPS = [env, forecast, textgen, generate, sentiment, speech, music, export_eval, serve, tutorial]

if __name__ == "__main__":
    W.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        if ONLY and step.__name__ not in ONLY:
            continue
        t = time.time()
        try:
            step()
        except Exception as e:  # noqa: BLE001
            RESULTS[step.__name__ + "_crash"] = repr(e)
            save()
        print(f"{step.__name__}: {time.time() - t:.0f} s", flush=True)
    for k, v in RESULTS.items():
        if isinstance(v, dict):
            short = {
                x: v.get(x)
                for x in ("rc", "seconds", "device", "precision", "test", "timesteps_per_second")
                if x in v
            }
            print(k, json.dumps(short, default=str)[:400])
        else:
            print(k, str(v)[:200])
