"""The image installs the built package, not the checkout: what the code reads must ship in it."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "training")


def tracked_files(*paths: str) -> list[str]:
    """Files git tracks under `paths` (the ones a build copies), relative to the root."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return [name for name in out.stdout.decode().split("\0") if name]


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
