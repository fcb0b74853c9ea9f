"""The shape docs/architecture.md describes stays true: no import cycle, small modules.

The layers themselves are import-linter's contracts (`pyproject.toml`, run by `make test`).
"""

from __future__ import annotations

import grimp

from tests.repo import ROOT

PACKAGES = ("app", "training")
LONGEST_MODULE = 450
"""Lines; past this a module holds more than one thing."""


def test_no_import_cycle_lazy_and_type_checking_imports_included() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)
    ours = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    cycles = sorted(
        (importer, imported)
        for importer in ours
        for imported in graph.find_modules_directly_imported_by(importer) & ours
        if graph.chain_exists(importer=imported, imported=importer)
    )
    assert cycles == []


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}
