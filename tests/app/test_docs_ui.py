"""The docs page in a real browser: offline, authorized with a key, a prediction tried out.

Debian's Chromium driven by Playwright (never a downloaded browser); CI installs Chromium
before the tests (`.ci/run`), so this is skipped only on a machine without it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.app.live_server import DEALNODE, clean_environ, keys_in, serve, server_env

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent.parent / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def _database(tmp_path: Path) -> tuple[str, str]:
    """A fresh SQLite database migrated by the CLI, and a score key in it."""
    url = f"sqlite:///{tmp_path / 'docs.db'}"
    env = server_env(url, tmp_path)
    done = subprocess.run(
        [str(DEALNODE), "db", "upgrade"],
        env={**clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return url, keys_in(url, docs_page="score")["docs_page"]


def test_the_docs_page_authorizes_and_tries_a_prediction_offline(
    registry_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, key = _database(tmp_path)
    with (
        serve(server_env(url, registry_dir), tmp_path / "server.log") as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            requested: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".swagger-ui .information-container .title")

            page.click(".auth-wrapper button.authorize")
            page.fill(".modal-ux input", key)
            page.click(".modal-ux .auth-btn-wrapper button.authorize")
            page.click(".modal-ux .auth-btn-wrapper button.btn-done")

            operation = page.locator("#operations-scoring-predict_v1_predict_post")
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table .response .response-col_status")
            status.wait_for()
            body = operation.locator(".live-responses-table .response-col_description pre")
            answered = status.inner_text().strip()
            text = body.first.inner_text()
            SCREENSHOTS.mkdir(exist_ok=True)
            operation.screenshot(path=str(SCREENSHOTS / "docs-predict.png"))
        finally:
            browser.close()
    assert answered.startswith("200"), text
    assert '"state"' in text
    assert f"{server.url}/v1/predict" in requested
    outside = [u for u in requested if not u.startswith((server.url + "/", "data:", "blob:"))]
    assert outside == []
    assert errors == []
    assert "POST /v1/predict 200" in server.log()
