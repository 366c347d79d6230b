"""The README's promises: CI runs exactly the test command the README gives."""
import re

from tests.conftest import REPO


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    setup = blocks[0].strip().splitlines()
    commands = [line for line in setup if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    test_command = commands[1]
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
    assert any("torch==2.13.0" in line for line in ci)
