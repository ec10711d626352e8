"""``report.html``: one self-contained page a person opens to see what a run did.

Everything is inside the file (plots as base64 PNG, MIDI and WAV samples as data links,
styles inline, no script): it opens offline, can be mailed, and makes no request.
Sections: the test metrics against the baselines, the history curves, the task's plots,
samples (text, forecasts, MIDI, audio), the configuration and the environment.
``seqsuite compare`` writes one for a comparison (:func:`compare_page`).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import atomic, rundir

REPORT = "report.html"
MAX_TEXT = 4000  # characters of one text sample shown
MAX_ROWS = 30  # rows of one table sample shown
MAX_EMBED = 8 * 2**20  # larger sample files are named, not embedded

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24;padding:0 1rem;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin-top:0}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}.wide{overflow-x:auto}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
tr.model td{background:#eef6ff}.best{font-weight:700}
img{max-width:100%;border:1px solid #eaeef2;margin:.4rem 0}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.85rem;white-space:pre-wrap}
figure{margin:1rem 0}figcaption{color:#57606a;font-size:.9rem}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any) -> str:
    """A value as the report's tables show it: as the terminal's tables do (a missing or
    undefined number, NaN included, is a dash)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "–" if math.isnan(value) else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def image_html(path: Path, caption: str = "") -> str:
    uri = data_uri(path.read_bytes(), "image/png")
    caption = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(path.stem)}" src="{uri}">{caption}</figure>'


def metrics_table(metrics: dict[str, Any]) -> str:
    """The model's test metrics above its baselines'; the best primary value in bold."""
    test = metrics.get("test", {}) or {}
    names = list(test)
    rows = [(f"{metrics.get('model', 'model')} (model)", test, True)]
    rows += [(name, values, False) for name, values in (metrics.get("baselines") or {}).items()]
    primary = metrics.get("primary_metric")
    values = [v.get(primary) for _, v, _ in rows if isinstance(v.get(primary), int | float)]
    best = (max if metrics.get("higher_is_better") else min)(values) if values else None
    head = "".join(f"<th>{esc(n)}{' ★' if n == primary else ''}</th>" for n in names)
    body = []
    for label, row, is_model in rows:
        cells = "".join(
            f'<td class="{"best" if n == primary and row.get(n) == best else ""}">{fmt(row.get(n))}</td>'
            for n in names
        )
        body.append(f'<tr class="{"model" if is_model else ""}"><td>{esc(label)}</td>{cells}</tr>')
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def short_number(text: str) -> str:
    """``369.36447840749`` -> ``369.364``: six significant digits; other text unchanged."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if text.lstrip("-").isdigit() else f"{value:.6g}"


def csv_table(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = [row for _, row in zip(range(MAX_ROWS + 1), csv.reader(handle), strict=False)]
    if not rows:
        return ""
    head = "".join(f"<th>{esc(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(short_number(c))}</td>" for c in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def sample_html(path: Path, run_dir: Path) -> str:
    """One output file of the run, shown in its kind (text, table, MIDI link, audio)."""
    name = esc(path.relative_to(run_dir))
    suffix = path.suffix.lower()
    if path.stat().st_size > MAX_EMBED:
        return f"<p>{name}: {path.stat().st_size / 2**20:.1f} MB, in the run directory</p>"
    if suffix == ".txt":
        text = path.read_text(encoding="utf-8", errors="replace")
        more = (
            f"\n… ({len(text) - MAX_TEXT:,} more characters in {name})"
            if len(text) > MAX_TEXT
            else ""
        )
        return f"<h3>{name}</h3><pre>{esc(text[:MAX_TEXT])}{esc(more)}</pre>"
    if suffix == ".csv":
        return f"<h3>{name}</h3><div class='wide'>{csv_table(path)}</div>"
    if suffix in (".mid", ".midi"):
        uri = data_uri(path.read_bytes(), "audio/midi")
        return f'<p><a download="{esc(path.name)}" href="{uri}">download {name}</a> (MIDI)</p>'
    if suffix == ".wav":
        uri = data_uri(path.read_bytes(), "audio/wav")
        return f'<p>{name}<br><audio controls preload="none" src="{uri}"></audio></p>'
    return ""


SAMPLE_SUFFIXES = {".txt", ".csv", ".mid", ".midi", ".wav"}
NOT_SAMPLES = {rundir.HISTORY, "skipped_files.txt"}


def sample_files(run_dir: Path) -> list[Path]:
    """The task's outputs: files at the top of the run directory and under ``samples/``."""
    found = [p for p in sorted(run_dir.glob("*")) if p.is_file() and p.name not in NOT_SAMPLES]
    found += sorted(p for p in (run_dir / "samples").glob("**/*") if p.is_file())
    return [p for p in found if p.suffix.lower() in SAMPLE_SUFFIXES and not p.is_symlink()]


def environment_html() -> str:
    from . import doctor

    env = doctor.environment()  # no plugin imported: a broken one cannot fail a run
    pairs = [
        ("seqsuite", env["seqsuite"]),
        ("python", env["python"]),
        ("platform", env["platform"]),
        ("device", env["device"]["name"]),
        *((name, version or "missing") for name, version in env["libraries"].items()),
        ("threads (torch)", env["threads"]["torch_threads"]),
        ("CPUs usable", env["threads"]["cpus_available"]),
    ]
    return key_values(pairs)


def page(title: str, subtitle: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{esc(h)}</h2>{content}" for h, content in sections if content)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p>{body}</body></html>\n"
    )


def run_page(run_dir: Path, metrics: dict[str, Any]) -> str:
    """The whole page of one run, from its directory and its metrics."""
    plots = sorted((run_dir / "plots").glob("*.png"))
    loss = [p for p in plots if p.name == "loss.png"]
    task_plots = [p for p in plots if p.name != "loss.png"]
    direction = "higher" if metrics.get("higher_is_better") else "lower"
    facts = [
        ("data set", metrics.get("dataset")),
        ("parameters", metrics.get("params")),
        ("epochs (best)", f"{metrics.get('epochs')} ({metrics.get('best_epoch')})"),
        ("stopped because", metrics.get("stop_reason")),
        ("training seconds", metrics.get("train_seconds")),
        ("device", metrics.get("device")),
        ("seed", metrics.get("seed")),
    ]
    config = (run_dir / rundir.CONFIG).read_text(encoding="utf-8", errors="replace")
    subtitle = (
        f"primary metric {metrics.get('primary_metric')} ({direction} is better) · "
        f"{run_dir.name} · written {datetime.now():%Y-%m-%d %H:%M}"
    )
    return page(
        f"seqsuite {metrics.get('task', '')} on {metrics.get('dataset', '')}",
        subtitle,
        [
            ("Test metrics against baselines", metrics_table(metrics) + key_values(facts)),
            (
                "Training history",
                "".join(image_html(p, "loss and validation metric per epoch") for p in loss),
            ),
            ("Plots", "".join(image_html(p, p.stem) for p in task_plots)),
            ("Samples", "".join(sample_html(p, run_dir) for p in sample_files(run_dir))),
            ("Configuration", f"<pre>{esc(config)}</pre>"),
            ("Environment", environment_html()),
        ],
    )


def write_run_report(run_dir: Path, metrics: dict[str, Any]) -> Path:
    target = run_dir / REPORT
    atomic.write_text(target, run_page(run_dir, metrics))
    return target


def compare_page(out: Path, rows: list[dict[str, Any]], command: str) -> str:
    """The page of ``seqsuite compare``: the table, the plot, and each run's own report."""
    headers = ["task", "backbone", "dataset", "primary_metric", "value", "best_baseline",
               "baseline_value", "improvement", "train_seconds", "status", "run_dir"]  # fmt: skip
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for h in headers:
            value = row.get(h)
            if h == "run_dir" and value and (Path(value) / REPORT).exists():
                try:
                    link = (Path(value) / REPORT).resolve().relative_to(out.resolve())
                except ValueError:
                    link = None
                cells.append(f'<td><a href="{esc(link)}">report</a></td>' if link else "<td></td>")
            elif h == "improvement" and isinstance(value, float):
                cells.append(f"<td>{100 * value:+.1f} %</td>")
            else:
                cells.append(f"<td>{esc(fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    plots = sorted((out / "plots").glob("*.png"))
    return page(
        "seqsuite compare",
        f"{command} · written {datetime.now():%Y-%m-%d %H:%M}",
        [
            (
                "Results (test split)",
                f"<div class='wide'><table><tr>{head}</tr>{''.join(body)}</table></div>",
            ),
            ("Plots", "".join(image_html(p, p.stem) for p in plots)),
            ("Environment", environment_html()),
        ],
    )


def write_compare_report(out: Path, rows: list[dict[str, Any]], command: str) -> Path:
    target = out / REPORT
    atomic.write_text(target, compare_page(out, rows, command))
    return target


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (for inline display)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()
