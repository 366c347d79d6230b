"""`vsr preview --web` run as a user runs it, headless, from a small file: stream, stats, page."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from tests.preview_clip import make_clip
from vsr.preview.web import parse_address

# The preview runs as a user runs it, in a process of its own, but believing that no MSRN weights
# ship (every scale of both models does now), so that the model switch has one to refuse.
_WITHOUT_MSRN_WEIGHTS = (
    "import sys, vsr.shipped as shipped; kept = [e for e in shipped.manifest() if e['model'] != 'msrn']; "
    "shipped.manifest = lambda: kept; from vsr.cli.main import main; sys.exit(main())"
)
W, H, SCALE = 64, 48, 2
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "") if p and Path(p).exists()), None)


class PreviewProcess:
    """``vsr preview ... --web 127.0.0.1:0`` in a subprocess; ``url`` is read from its first line."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WITHOUT_MSRN_WEIGHTS, "preview", *map(str, args), "--web", "127.0.0.1:0"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        self.lines: list[str] = []
        self._got_url = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._got_url.wait(60):
            self.stop()
            raise AssertionError(f"no URL from vsr preview: {self.lines}")
        self.url = re.search(r"http://\S+/", self.lines[0])[0]

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._got_url.set()
        self._got_url.set()

    def stop(self, sig=signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def stats_when(preview: PreviewProcess, ready, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = json.loads(get(preview.url + "stats"))
        if ready(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def mjpeg_frames(url: str, count: int) -> list[bytes]:
    """The first ``count`` JPEG parts of a multipart/x-mixed-replace stream."""
    frames = []
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers.get_content_type() == "multipart/x-mixed-replace"
        boundary = response.headers.get_param("boundary")
        while len(frames) < count:
            line = response.readline().strip()
            if not line:
                continue
            assert line == f"--{boundary}".encode(), line
            headers = {}
            while (line := response.readline().strip()):
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            assert headers["content-type"] == "image/jpeg"
            frames.append(response.read(int(headers["content-length"])))
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", W, H, frames=30, fps=30)


@pytest.fixture(scope="module")
def preview(clip, espcn_weights):
    process = PreviewProcess("--source", clip, "--loop", "--scale", SCALE, "--weights", espcn_weights[SCALE], "--backend", "torch")
    yield process
    process.stop()


def test_stream_delivers_jpeg_frames_of_both_halves_side_by_side(preview):
    frames = mjpeg_frames(preview.url + "stream.mjpg", 3)
    for jpeg in frames:
        picture = Image.open(io.BytesIO(jpeg))
        assert picture.format == "JPEG"
        assert picture.size == (2 * SCALE * W, SCALE * H)
        picture.load()  # decodes completely: a valid JPEG


def test_stats_report_a_running_preview(preview):
    stats = stats_when(preview, lambda s: s["fps"] > 0 and s["frames"] >= 5)
    assert stats["fps"] > 0 and stats["frames"] >= 5
    assert (stats["model"], stats["backend"], stats["scale"]) == ("espcn", "torch", SCALE)
    assert stats["input_size"] == [W, H] and stats["output_size"] == [SCALE * W, SCALE * H]
    assert stats["latency_ms"] > 0


def test_page_links_the_stream_and_the_stats(preview):
    page = get(preview.url).decode()
    assert 'src="/stream.mjpg"' in page and '"/stats"' in page


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (CI installs Debian's chromium package)")
def test_page_in_headless_chromium_shows_both_halves(preview, tmp_path):
    stats_when(preview, lambda s: s["frames"] >= 2)
    shot = tmp_path / "page.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=600,400", preview.url],
        capture_output=True, timeout=60, check=True,
    )
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    green = (g > r + 40) & (g > b + 40)  # the clip is saturated green; the page is grey
    rows, cols = np.nonzero(green)
    assert rows.size, "the picture is not on the page"
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    assert abs((right - left) - 2 * SCALE * W) <= 4 and abs((bottom - top) - SCALE * H) <= 4, (left, right, top, bottom)
    middle = left + SCALE * W
    for half in (green[top:bottom, left:middle], green[top:bottom, middle:right]):
        assert half.mean() > 0.5  # each half is filled with the picture


def post(preview: PreviewProcess, path: str) -> dict:
    """A POST as the page sends it: with the token the page carries."""
    token = re.search(r'const token = "([A-Za-z0-9_-]+)"', get(preview.url).decode())[1]
    request = urllib.request.Request(preview.url + path.lstrip("/"), method="POST", headers={"X-Vsr-Token": token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_switching_to_a_model_without_weights_says_so_and_stays(preview):
    post(preview, "/key?k=m")
    stats = stats_when(preview, lambda s: "msrn" in s["unavailable_models"])
    assert stats["model"] == "espcn" and stats["unavailable_models"] == ["msrn"]
    assert stats["message"].startswith(f"msrn: no usable weights for x{SCALE}, staying on espcn; ")
    assert "vsr train --model msrn" in stats["message"]  # and how to get them
    again = post(preview, "/key?k=m")  # nothing else to switch to: said, not silently ignored
    assert again["model"] == "espcn" and again["done"].startswith("no other model can run here, staying on espcn")
    assert stats_when(preview, lambda s: s["frames"] > stats["frames"])["frames"] > stats["frames"]  # still running


def test_page_shows_pictures_at_one_to_one_with_one_set_of_stats(preview):
    page = get(preview.url).decode()
    style = re.search(r"#picture \{([^}]*)\}", page)[1]
    assert "max-width: none" in style and "100%" not in style  # never shrunk to the window
    assert re.search(r"#viewport \{[^}]*overflow: auto", page)  # scrolled instead
    assert "devicePixelRatio" in page  # one picture pixel per screen pixel on HiDPI screens too
    assert 'id="models"' in page and 'id="notice"' in page and "no usable weights" in page
    # The stream's pictures carry no status line: the page's stats are the only ones.
    [jpeg] = mjpeg_frames(preview.url + "stream.mjpg", 1)
    bottom = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))[-8:].astype(int)
    green = (bottom[..., 1] > 180) & (bottom[..., 0] < 80) & (bottom[..., 2] < 90)  # the clip's own colour
    # (the bicubic half: the CNN half of the fixture's untrained weights is dark by itself)
    assert green[:, : SCALE * W].mean() > 0.95, "a status line (darkened box, white text) along the bottom of the picture"


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js to check the page's script")
def test_page_script_parses(preview, tmp_path):
    script = re.search(r"<script>(.*)</script>", get(preview.url).decode(), re.S)[1]
    (tmp_path / "page.js").write_text(script)
    subprocess.run(["node", "--check", str(tmp_path / "page.js")], check=True, capture_output=True, timeout=30)


def chromium(preview: PreviewProcess, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}", *flags, preview.url],
        capture_output=True, timeout=60, check=True, text=True,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (CI installs Debian's chromium package)")
def test_page_in_a_narrow_window_scrolls_instead_of_shrinking(preview, tmp_path):
    shot = tmp_path / "narrow.png"
    chromium(preview, tmp_path, f"--screenshot={shot}", "--window-size=200,400")
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    green = (rgb[..., 1] > rgb[..., 0] + 40) & (rgb[..., 1] > rgb[..., 2] + 40)
    rows, cols = np.nonzero(green)
    assert rows.size, "the picture is not on the page"
    assert abs((rows.max() + 1 - rows.min()) - SCALE * H) <= 4  # full height: not scaled down to the window
    assert cols.max() + 1 - cols.min() < 2 * SCALE * W  # cut off at the window's edge, to be scrolled to


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (CI installs Debian's chromium package)")
def test_page_in_headless_chromium_names_the_model_without_weights(preview, tmp_path):
    post(preview, "/key?k=m")
    stats_when(preview, lambda s: "msrn" in s["unavailable_models"])
    dom = chromium(preview, tmp_path, "--virtual-time-budget=3000", "--dump-dom").stdout
    models = re.search(r'<div id="models">(.*?)</div>', dom, re.S)[1]
    assert "espcn (showing)" in models and "msrn (no usable weights)" in models, models
    notice = re.search(r'<div id="notice" role="status">(.*?)</div>', dom, re.S)[1]
    assert "staying on espcn" in notice and f"msrn: no usable weights for x{SCALE}" in notice, notice
    stats = re.search(r'<div id="stats">(.*?)</div>', dom, re.S)[1]
    assert f"espcn x{SCALE}" in stats and " fps" in stats and "msrn" not in stats  # one line of stats; the notice apart


@pytest.mark.parametrize("text, address", [("8080", ("127.0.0.1", 8080)), ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:0", ("::1", 0)), ("localhost:81", ("localhost", 81))])
def test_parse_address(text, address):
    assert parse_address(text) == address


def test_preview_ends_with_its_source(tmp_path, espcn_weights):
    short = make_clip(tmp_path / "short.mkv", W, H, frames=10, fps=30)
    process = PreviewProcess("--source", short, "--weights", espcn_weights[2])
    assert process.proc.wait(30) == 0
    time.sleep(0.1)
    summary = re.search(r"(\d+) frames in all, .* (\d+) skipped", process.lines[-1])
    assert summary and int(summary[1]) + int(summary[2]) == 10, process.lines


def test_ctrl_c_stops_cleanly_with_a_summary(preview):
    """Runs last in this file: it ends the shared preview."""
    assert preview.stop(signal.SIGINT) == 0
    time.sleep(0.1)
    assert "Traceback" not in "\n".join(preview.lines)
    assert re.search(r"\d+ frames in all", preview.lines[-1]), preview.lines
