"""A real headless Chromium (the distribution's chromium and chromium-driver, as .ci/run installs them),
driven through Selenium; screenshots go to test-artifacts/ (ignored by git)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def chromium() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=390,844", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def wait_until(driver, condition, timeout: float = 20.0):
    """Waits for `condition(driver)`; an element the page re-rendered meanwhile (it polls every 2 s) is
    looked up again on the next try rather than failing the wait."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(condition)


def click(driver, css: str) -> None:
    """Clicks the first element `css` names, as a person would, finding it again if the page re-rendered it."""
    from selenium.webdriver.common.by import By

    def clicked(d) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    wait_until(driver, clicked)


def read(driver, what):
    """What `what(driver)` reads off the page (texts, attributes: plain values, no elements), read again
    from the start if the page re-rendered while it was being read."""
    return wait_until(driver, lambda d: (what(d),))[0]
