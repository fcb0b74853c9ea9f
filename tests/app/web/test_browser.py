"""The web app in a real browser: sign in, every page (the model page's calibration chart and
monitoring report too), a queue filter, the queue to a customer, activation as admin and not as
a viewer, a forged post refused, no console errors, and nothing fetched from anywhere but the
app.

Debian's Chromium driven by Playwright (never a downloaded browser), skipped only on a machine
without it. One server and one browser for the module; each test has its own cookies.
Screenshots of every page go to tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.migrate import upgrade
from tests.app.conftest import BACKENDS, PG_SCHEMA, postgres_url
from tests.app.live_server import (
    DEALNODE,
    Server,
    clean_environ,
    fetch,
    keys_in,
    serve,
    server_env,
)
from training.features import STATES
from training.train import TrainResult

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "screenshots"
SECOND = "2000-01-01_second"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


@dataclass
class Site:
    """The running app with demo data, and a key of each scope."""

    server: Server
    viewer_key: str
    admin_key: str


@dataclass
class Watch:
    """What a page asked for and complained about."""

    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _registry(trained: TrainResult, folder: Path) -> Path:
    """The session's registry with a second version an admin can activate."""
    registry = folder / "models"
    shutil.copytree(trained.path.parent, registry)
    shutil.copytree(registry / trained.version, registry / SECOND)
    meta_path = registry / SECOND / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = SECOND
    meta_path.write_text(json.dumps(meta))
    return registry


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, trained: TrainResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A migrated database of each backend filled by `dealnode demo` and rescored twice by
    `dealnode rescore`, served by `dealnode serve`."""
    folder = tmp_path_factory.mktemp("web")
    if request.param == "postgresql":
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("TEST_DATABASE_URL is not set")
        url = postgres_url(f"{PG_SCHEMA}_web")
    else:
        url = f"sqlite:///{folder / 'web.db'}"
    env = server_env(url, _registry(trained, folder))
    upgrade(url)
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for command in (
        ["demo", "--customers", "120"],
        # Two nightly runs, for the funnel's trend and last-run moves.
        ["rescore", "--workers", "0", "--as-of", three_days_ago],
        ["rescore", "--workers", "0"],
    ):
        done = subprocess.run(
            [str(DEALNODE), *command],
            env={**clean_environ(), **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    keys = keys_in(url, viewer="score", admin="admin")
    with serve(env, folder / "server.log") as server:
        yield Site(server, keys["viewer"], keys["admin"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def _new_context(browser: Browser) -> BrowserContext:
    """A fresh cookie jar at laptop width, patient with a shared, loaded machine."""
    fresh = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    fresh.set_default_timeout(60_000)
    return fresh


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh cookie jar for the test."""
    fresh = _new_context(browser)
    yield fresh
    fresh.close()


def _watched(context: BrowserContext) -> tuple[Page, Watch]:
    page = context.new_page()
    watch = Watch()
    page.on("request", lambda r: watch.requested.append(r.url))
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    return page, watch


def _sign_in(page: Page, site: Site, key: str, path: str = "/app") -> None:
    page.goto(site.server.url + path)
    page.wait_for_url("**/app/sign-in**")
    page.fill("#api_key", key)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(site.server.url + path)


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"web-{name}.png"), full_page=True)


def _assert_charts_shown(page: Page, count: int) -> None:
    """`count` chart images, each decoded by the browser (a blocked or broken SVG has no
    natural width) and described by an alt text."""
    images = page.locator("figure.chart img")
    assert images.count() == count
    for image in images.all():
        assert image.evaluate("i => i.complete && i.naturalWidth") > 0
        assert len(image.get_attribute("alt") or "") > 20


def test_a_viewer_signs_in_filters_the_queue_and_opens_every_page(
    site: Site, context: BrowserContext
) -> None:
    page, watch = _watched(context)
    _sign_in(page, site, site.viewer_key)
    assert page.locator("h1").inner_text() == "Funnel"
    counts = {
        cell.get_attribute("data-state"): int(cell.inner_text())
        for cell in page.locator("td[data-state]").all()
    }
    assert sum(counts.values()) > 0
    assert page.locator("#moved-forward").count() == 1
    _assert_charts_shown(page, 2)  # the 30 and 90 days' trends
    _shot(page, "funnel")

    busiest = max(counts, key=lambda s: counts[s])
    assert busiest is not None
    page.get_by_role("link", name="Work queue").click()
    page.wait_for_url("**/app/queue")
    page.select_option("#f-state", busiest)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**state={busiest}**")
    shown = page.locator("table.queue tbody .state").all_inner_texts()
    assert shown
    assert set(shown) == {busiest}
    _shot(page, "queue")

    first = page.locator("table.queue tbody tr").first.locator("a")
    customer_id = first.inner_text()
    first.click()
    page.wait_for_url(f"**/app/customers/{customer_id}")
    assert customer_id in page.locator("h1").inner_text()
    _assert_charts_shown(page, 1)
    assert page.locator("ol.timeline li").count() > 0
    _shot(page, "customer")

    for name, title in (("models", "Model"), ("runs", "Runs & deliveries")):
        page.get_by_role("link", name=title).click()
        page.wait_for_url(f"**/app/{name}")
        assert page.locator("h1").inner_text() == title
        _shot(page, name)
        if name == "models":
            bins = page.locator("#calibration tbody tr").count()
            assert bins > 0
            _assert_charts_shown(page, 1)
            assert page.locator("#retrain").inner_text().startswith("Retrain:")
            assert page.locator("#drift-7 tbody tr").count() > 0
            assert page.locator("#state-mix").count() == 1

    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    for path, name in (
        ("/app", "funnel-phone"),
        (f"/app/queue?state={busiest}", "queue-phone"),
        ("/app/models", "models-phone"),
    ):
        page.goto(site.server.url + path)
        wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wider <= 1, f"{path} scrolls sideways on a phone"
        _shot(page, name)

    assert watch.errors == []
    outside = [u for u in watch.requested if not u.startswith(site.server.url + "/")]
    assert outside == []
    secret = site.viewer_key.split("_", 2)[2]  # the secret may hold "_" itself
    assert not [u for u in watch.requested if secret in u]
    assert secret not in site.server.log()


def test_an_admin_activates_a_model_after_confirming_and_a_viewer_cannot(
    site: Site, browser: Browser
) -> None:
    viewer = _new_context(browser)
    try:
        page, _ = _watched(viewer)
        _sign_in(page, site, site.viewer_key, "/app/models")
        assert page.get_by_role("link", name="Activate…").count() == 0
        refused = page.goto(f"{site.server.url}/app/models/{SECOND}/activate")
        assert refused is not None
        assert refused.status == 403
        assert "needs an admin key" in page.locator("main").inner_text()
        _shot(page, "refused")
    finally:
        viewer.close()

    admin = _new_context(browser)
    try:
        page, watch = _watched(admin)
        _sign_in(page, site, site.admin_key, "/app/models")
        row = page.locator("#versions tr", has_text=SECOND)
        row.get_by_role("link", name="Activate…").click()
        page.wait_for_url(f"**/app/models/{SECOND}/activate")
        _shot(page, "activate")
        page.click("#confirm-activate")
        page.wait_for_url("**/app/models")
        assert "serving" in page.locator("#versions tr", has_text=SECOND).inner_text()
        assert SECOND in page.locator("#current-h").inner_text()
        assert watch.errors == []
    finally:
        admin.close()


def test_a_forged_post_with_the_session_cookie_is_refused(
    site: Site, context: BrowserContext
) -> None:
    page, _ = _watched(context)
    _sign_in(page, site, site.viewer_key)
    forged = context.request.post(
        f"{site.server.url}/app/sign-out", form={"csrf_token": "not-the-token"}
    )
    assert forged.status == 403
    page.goto(site.server.url + "/app")
    assert page.locator("h1").inner_text() == "Funnel"


def test_a_customer_whose_id_has_url_characters_opens_from_the_queue(
    site: Site, context: BrowserContext
) -> None:
    odd = "50%off?q=1#top&x"
    body = json.dumps({"customer_id": odd, "visits": 2, "quotes": 1, "quotes_90d": 1})
    status, _, _ = fetch(
        "POST",
        f"{site.server.url}/v1/predict",
        {"Authorization": f"Bearer {site.viewer_key}", "Content-Type": "application/json"},
        body.encode(),
    )
    assert status == 200
    page, watch = _watched(context)
    _sign_in(page, site, site.viewer_key, "/app/queue?min_confidence=0")
    link = page.get_by_role("link", name=odd, exact=True)
    while link.count() == 0:
        page.click("#next-page")  # fails the test when there is no page left
        page.wait_for_load_state()
    link.click()
    page.wait_for_selector("h1 .id")
    assert page.locator("h1 .id").inner_text() == odd
    assert watch.errors == []


def _tab_to(page: Page, is_there: str, *, limit: int = 40) -> None:
    """Press Tab until the JavaScript test `is_there` (on `document.activeElement`, as `el`)
    holds; fails after `limit` presses, so a control the keyboard cannot reach fails."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => Boolean({is_there}))(document.activeElement)"):
            return
    pytest.fail(f"Tab never reached {is_there}")


def test_a_seller_signs_in_skips_the_menu_and_filters_the_queue_with_the_keyboard_alone(
    site: Site, context: BrowserContext
) -> None:
    page, watch = _watched(context)
    page.goto(site.server.url + "/app")
    page.wait_for_url("**/app/sign-in**")
    assert page.evaluate("document.activeElement.id") == "api_key"  # the field has the focus
    page.keyboard.type(site.viewer_key)
    page.keyboard.press("Enter")
    page.wait_for_url(site.server.url + "/app")

    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert page.evaluate("document.activeElement.className") == "skip"
    box = skip.bounding_box()
    assert box is not None
    assert box["x"] >= 0  # shown once focused, not left off-screen
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # the focus can be seen
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the very next stop is in the page, past the menu
    assert page.evaluate("document.activeElement.closest('main') !== null")

    page.goto(site.server.url + "/app")
    _tab_to(page, "el.textContent === 'Work queue'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/queue")
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('main input:not([type=hidden]), main select')]"
        ".filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.id)"
    )
    assert unlabelled == []
    _tab_to(page, "el.id === 'f-state'")
    page.keyboard.press("ArrowDown")  # "any" to the first state
    chosen = page.evaluate("document.activeElement.value")
    assert chosen == STATES[0]
    _tab_to(page, "el.textContent === 'Apply'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**state={chosen}**")
    shown = set(page.locator("table.queue tbody .state").all_inner_texts())
    assert shown <= {chosen}
    assert watch.errors == []
