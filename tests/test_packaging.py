"""What `pip install vsr` brings: the fast CPU engine by default, an open torch range, a license."""
import configparser
import re

from tests.conftest import REPO


def _requirements() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = [l.strip() for l in config["options"]["install_requires"].splitlines()]
    found = {}
    for line in lines:
        if line and not line.startswith("#"):
            name = re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
            found[name] = line[len(name):]
    return found


def test_onnx_runtime_and_the_exporter_come_with_a_plain_install():
    # Without them `--backend auto` ran eager torch on the CPU, 2-3x slower, without a word.
    requirements = _requirements()
    assert "onnxruntime" in requirements and "onnx" in requirements


def test_torch_keeps_an_open_range_so_users_bring_their_cpu_or_cuda_build():
    spec = _requirements()["torch"]
    assert spec.startswith(">=") and "<" not in spec and "==" not in spec


def test_the_license_file_matches_setup_cfg():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_the_version_is_written_once_in_a_leaf_module():
    # setup.cfg reads it (tests/test_cli_help.py); no layer imports it from the package root above it.
    written = [p for p in (REPO / "vsr").rglob("*.py") if re.search(r"^__version__\s*=", p.read_text(), re.M)]
    assert written == [REPO / "vsr" / "_version.py"]
