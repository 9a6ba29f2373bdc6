"""The real browser for tests marked ``browser``: Debian's Chromium (``make sysdeps``) driven
headless through Playwright's Python API.

Playwright is told where Chromium is (``executable_path``); ``playwright install`` is never run,
so nothing is downloaded at test time. Outside CI a missing Chromium skips with the reason;
under ``CI=true`` it fails the run. ``tests/conftest.py`` registers the fixtures
once for the whole session: Playwright's sync API cannot run two instances at once, so no other
conftest may import them again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Debian installs the browser here; CHROMIUM overrides it for other systems.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1366, "height": 900}


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true requires a browser: {reason}", pytrace=False)
    pytest.skip(f"{reason} (make sysdeps; mandatory with CI=true)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (pages are cheap; browsers are not)."""
    executable = chromium_path()
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # The sandbox needs user namespaces that containers often lack; the pages are ours.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


def _page(browser: Any, **context_options: Any) -> Iterator[Any]:
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    """A fresh context (own cookies) with a desktop viewport."""
    yield from _page(browser, viewport=DESKTOP_VIEWPORT)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A fresh context emulating a phone: small viewport, touch, a mobile user agent."""
    yield from _page(
        browser,
        viewport=PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
        user_agent=(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
        ),
    )
