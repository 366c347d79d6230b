"""The package's layers (setup.cfg's import-linter contract) and no import cycles inside it."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_every_module_imports_only_from_the_layers_below_it():
    importlinter = pytest.importorskip("importlinter", reason="import-linter is in the [test] extra")
    from importlinter.cli import lint_imports

    # 0 when every contract is kept; the report it prints names each broken import.
    assert lint_imports(config_filename=str(REPO / "setup.cfg")) == 0


def test_no_module_imports_one_that_imports_it_back():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter")
    graph = grimp.build_graph("vsr")
    circles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert circles == []
