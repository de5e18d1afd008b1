"""A real browser for the UI tests: Debian's chromium, headless, driven by chromedriver.

No test tool downloads a browser of its own: selenium is given both binaries,
so Selenium Manager never runs. `make install` installs the Debian packages.
Also: the API on a real port (uvicorn in a thread), since Neo4j Browser and
GraphiQL fetch from it over HTTP.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from api.settings import ApiSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1400,1000",
)
WAIT_S = 60.0
T = TypeVar("T")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A fresh headless chromium with its own profile, closed afterwards."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: `make install` installs Debian's chromium and "
            "chromium-driver (apt-get install chromium chromium-driver)"
        )
    with tempfile.TemporaryDirectory(prefix="threatgraph-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.set_page_load_timeout(WAIT_S)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(
    driver: WebDriver,
    condition: Callable[[WebDriver], T],
    what: str,
    shown: Callable[[WebDriver], str] | None = None,
) -> T:
    """Wait (bounded) until `condition` returns something truthy.

    On timeout the error names `what`, and, given `shown`, what the page showed
    instead: a failure on a busy CI machine has to be readable from its log.
    """
    try:
        result: T = WebDriverWait(driver, WAIT_S, poll_frequency=0.25).until(condition)
    except TimeoutException:
        seen = f"; the page showed: {shown(driver)}" if shown else ""
        raise TimeoutException(f"waited {WAIT_S:.0f} s for {what}{seen}") from None
    return result


@contextmanager
def live_api(port: int) -> Iterator[str]:
    """The real app served by uvicorn on 127.0.0.1:`port` in a thread; yields its base URL."""
    app = create_app(ApiSettings.from_env({}))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the API did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/img when `make screenshots` asks for it (THREATGRAPH_SCREENSHOT_DIR), else tmp."""
    chosen = os.environ.get("THREATGRAPH_SCREENSHOT_DIR")
    target = Path(chosen) if chosen else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target
