"""The tests mirror the code, so a module's tests are found at the same path under tests/."""

from __future__ import annotations

from tests.repo import ROOT

TESTS = ROOT / "tests"


def test_every_app_test_sits_in_a_folder_that_app_has() -> None:
    strays = [
        str(path.relative_to(ROOT))
        for path in sorted((TESTS / "app").rglob("test_*.py"))
        if not (ROOT / path.parent.relative_to(TESTS)).is_dir()
    ]
    assert strays == [], "move each under tests/app/<package>/ for the app/ package it tests"


def test_every_folder_of_tests_is_a_package() -> None:
    """Without `__init__.py`, two test files of one name in different folders collide."""
    folders = {path.parent for path in TESTS.rglob("test_*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == []
