"""`vsr preview`'s bad inputs: one clear line and a non-zero exit, before anything slow happens."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_cli_error


def test_missing_file_source(cli, tmp_path):
    assert_cli_error(cli("preview", "--source", tmp_path / "missing.mp4", "--web", "127.0.0.1:0"), "no such file")


def test_port_in_use(cli, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_cli_error(cli("preview", "--source", tmp_path / "any.mp4", "--web", f"127.0.0.1:{port}"), "in use")


def test_window_without_display_suggests_web(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    line = assert_cli_error(cli("preview", "--source", tmp_path / "any.mp4"), "--web")
    assert "display" in line or "headless" in line or "OpenCV" in line


@pytest.mark.skipif(not sys.platform.startswith("linux") or Path("/dev/video63").exists(), reason="needs Linux without /dev/video63")
def test_no_camera(cli):
    assert_cli_error(cli("preview", "--source", "63", "--web", "127.0.0.1:0"), "no camera 63")


@pytest.mark.parametrize("flags, fragment", [(["--web", "localhost:port"], "[HOST:]PORT"), (["--web", "0", "--input-size", "big"], "WIDTHxHEIGHT")])
def test_malformed_flags(cli, flags, fragment):
    assert_cli_error(cli("preview", *flags), fragment)
