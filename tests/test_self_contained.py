"""The repository explains itself: nothing it tracks cites a file outside it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.repo import ROOT, tracked_files

OUTSIDE = re.compile(r"\.\./shared|shared/DOMAIN|\bDOMAIN\.md")
"""The old citations of a domain brief kept beside the repository; docs/domain.md replaces it."""


def test_no_tracked_file_cites_the_domain_brief_outside_the_repository() -> None:
    offenders = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files cite nothing
            continue
        offenders += [
            f"{name}:{number}"
            for number, line in enumerate(text.splitlines(), start=1)
            if OUTSIDE.search(line) and Path(name) != Path(__file__).relative_to(ROOT)
        ]
    assert offenders == []


def test_the_domain_page_names_the_five_states_in_funnel_order() -> None:
    from training.features import STATES

    text = (ROOT / "docs" / "domain.md").read_text()
    positions = [text.index(f"`{state}`") for state in STATES]
    assert positions == sorted(positions)
