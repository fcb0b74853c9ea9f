"""Model copies damaged the ways that must not take a process down."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

BROKEN = "2000-01-02_broken"


def broken_copy(registry_dir: Path, source: str, *, keep_checksum: bool = False) -> str:
    """Copy `source` as BROKEN with its first tree's leaf values unreadable: LightGBM 4.7
    aborts the process (SIGABRT) parsing it. The recorded checksum is updated to match,
    unless `keep_checksum` (then the checksum check catches it)."""
    target = registry_dir / BROKEN
    shutil.copytree(registry_dir / source, target)
    booster = target / "model.txt"
    text, count = re.subn(
        r"^leaf_value=.*$", "leaf_value=abc", booster.read_text(), count=1, flags=re.M
    )
    assert count == 1
    booster.write_text(text)
    meta = json.loads((target / "metadata.json").read_text())
    meta["version"] = BROKEN
    if not keep_checksum:
        meta["booster"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (target / "metadata.json").write_text(json.dumps(meta))
    return BROKEN
