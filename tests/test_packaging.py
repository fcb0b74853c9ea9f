"""The image installs the built package, not the checkout: what the code reads must ship in it."""

from __future__ import annotations

import tomllib

from tests.repo import ROOT, tracked_files

PACKAGES = ("app", "training")


def _declared_package_data() -> set[str]:
    """The files setuptools' `package-data` globs select, relative to the root."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared: set[str] = set()
    for package, patterns in setuptools.get("package-data", {}).items():
        folders = PACKAGES if package == "*" else (package.replace(".", "/"),)
        for folder in folders:
            for pattern in patterns:
                declared |= {
                    p.relative_to(ROOT).as_posix() for p in ROOT.glob(f"{folder}/{pattern}")
                }
    return declared


def test_every_data_file_the_packages_read_is_package_data() -> None:
    data = [p for p in tracked_files(*PACKAGES) if not p.endswith(".py")]
    assert "app/scoring/playbook.toml" in data  # the default playbook must reach the image
    missing = sorted(set(data) - _declared_package_data())
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"
