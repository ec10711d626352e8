"""report.html: one self-contained file, rendered by headless Chromium without console
errors and not blank."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import seqsuite

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SMALL = {"backbone": {"hidden_size": 16, "num_layers": 1, "bidirectional": False}}


def needs_chromium() -> str:
    """CI installs Debian's chromium (.ci/run): there, a missing browser is a failure."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def render(page: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A screenshot of ``page`` and the console messages logged at error level."""
    browser = needs_chromium()
    shot = tmp_path / f"{page.stem}.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
        "--window-size=1200,2400", "--hide-scrollbars", f"--screenshot={shot}",
    ]  # fmt: skip
    done = subprocess.run(
        [browser, *flags, page.resolve().as_uri()], capture_output=True, text=True, timeout=120
    )
    assert shot.exists(), done.stderr[-2000:]
    # Chromium logs every console message (errors, failed loads) as "...:CONSOLE:N] "text"";
    # the reports hold no script, so any console message at all is an error
    errors = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return shot, errors


def not_blank(png: Path) -> float:
    """The share of the screenshot's pixels that are not the background colour."""
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    background = pixels[0, 0]
    return float((np.abs(pixels - background).sum(axis=-1) > 30).mean())


def assert_self_contained(html: str) -> None:
    assert "<script" not in html and "<link" not in html and "@import" not in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("data:") or not re.match(r"[a-z]+://", url), url[:80]


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    where = tmp_path_factory.mktemp("forecast")
    steps = np.arange(120)
    values = 10 + np.sin(steps * 2 * np.pi / 12) + 0.02 * steps
    values += np.random.default_rng(0).normal(0, 0.1, steps.size)
    return seqsuite.fit(
        "forecast", values, out=where / "run", train={"epochs": 3}, task={"horizon": 6}, **SMALL
    )


def test_run_report_holds_metrics_config_plots_samples_and_environment(forecast_run):
    html = (forecast_run.path / "report.html").read_text()
    assert_self_contained(html)
    metrics = forecast_run.metrics
    for name in ("Test metrics against baselines", "Training history", "Plots", "Samples"):
        assert name in html
    assert f"{metrics['test']['mase']:.4g}" in html and "seasonal_naive" in html
    assert "[backbone]" in html and "hidden_size = 16" in html  # the configuration
    assert "torch" in html and "Environment" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2  # loss and forecast plots
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "forecast.csv" in html  # the forecasts as a table


def test_run_report_renders_in_headless_chromium(forecast_run, tmp_path):
    shot, errors = render(forecast_run.path / "report.html", tmp_path)
    assert errors == []
    assert not_blank(shot) > 0.03
    shutil.copy(shot, Path(os.environ.get("SEQSUITE_SCREENSHOTS", tmp_path)) / "run-report.png")


def test_console_errors_are_seen(tmp_path):
    """The check above can fail: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><p>x</p><script>console.error('broken')</script></body></html>")
    _, errors = render(page, tmp_path)
    assert errors and "broken" in errors[0]


def test_a_blank_page_is_seen_as_blank(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text("<html><body></body></html>")
    shot, _ = render(page, tmp_path)
    assert not_blank(shot) < 0.001


def test_music_report_links_a_midi_download(tmp_path):
    import music21

    def melody(k: int):
        stream = music21.stream.Stream()
        for i in range(12):
            stream.append(music21.note.Note(60 + (i * k) % 12, quarterLength=1))
        return stream

    run = seqsuite.fit(
        "music",
        [melody(k) for k in range(1, 11)],
        train={"epochs": 1},
        task={"embedding_dim": 8, "transpose": False},
        **SMALL,
    )
    html = (run.path / "report.html").read_text()
    assert_self_contained(html)
    link = re.search(r'<a download="([^"]+\.mid)" href="data:audio/midi;base64,([^"]+)"', html)
    assert link and base64.b64decode(link.group(2))[:4] == b"MThd"


def test_speech_report_plays_test_recordings_with_their_predictions(tmp_path):
    rate = 8000
    t = np.arange(int(0.4 * rate)) / rate
    items = [
        ((0.5 * np.sin(2 * np.pi * (300 if k % 2 else 1200) * t)).astype(np.float32)
         + np.random.default_rng(k).normal(0, 0.01, t.size).astype(np.float32),
         rate, "low" if k % 2 else "high")
        for k in range(30)
    ]  # fmt: skip
    task = {"sample_rate": rate, "max_seconds": 0.3}  # the model hears 0.3 s of each 0.4
    run = seqsuite.fit("speech", items, train={"epochs": 1}, task=task, **SMALL)
    html = (run.path / "report.html").read_text()
    audio = re.findall(r'<audio controls preload="none" src="data:audio/wav;base64,', html)
    assert len(audio) == 3
    names = sorted(p.name for p in (run.path / "samples").glob("*.wav"))
    assert len(names) == 3 and all(
        re.fullmatch(r"\d\d-(low|high)-as-(low|high)\.wav", n) for n in names
    )
    for name in names:
        assert name in html
        assert soundfile.info(run.path / "samples" / name).duration == pytest.approx(0.3)


def test_compare_writes_a_report_that_renders(toy_plugin, cli, tmp_path, monkeypatch):
    from tests.conftest import PLUGINS

    # compare runs each task in a child process, which finds the plugin on PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGINS / "toy"), *sys.path]))
    result = cli("compare", "toy", "--quick", "--out", "cmp")
    assert result.code == 0, result.err
    html = Path("cmp/report.html").read_text()
    assert_self_contained(html)
    assert "toy" in html and "data:image/png;base64," in html
    links = re.findall(r'href="([^"]+report\.html)"', html)
    assert links and all((Path("cmp") / link).exists() for link in links)
    shot, errors = render(Path("cmp/report.html"), tmp_path)
    assert errors == [] and not_blank(shot) > 0.02
    shutil.copy(shot, Path(os.environ.get("SEQSUITE_SCREENSHOTS", tmp_path)) / "compare-report.png")


def test_an_undefined_number_is_a_dash_as_in_the_terminal():
    from seqsuite.report_html import fmt

    assert fmt(float("nan")) == "–" and fmt(None) == "–" and fmt(0.123456) == "0.1235"
