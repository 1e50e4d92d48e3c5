"""Headless Debian Chromium (through Debian's chromedriver) reading the console as a person does.

Never downloads a browser: the binaries are the ones `make browser` installs with apt,
and Selenium Manager is kept offline. What :func:`read_page` returns is taken from the
rendered DOM (the rows, boxes and charts a person looks at), not from the JSON API.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: The flags this machine's closed network needs (see the machine notes), headless.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,2600",
)

#: Runs in the page: what is on screen, as plain data.
_READ = """
const rows = [...document.querySelectorAll('#execution-rows tr')];
const widgets = [...document.querySelectorAll('#widgets .widget')];
return {
  status: document.getElementById('status').textContent,
  executions: rows.map(r => [r.cells[0].textContent, r.cells[1].textContent]),
  widgets: widgets.map(w => [w.querySelector('h3').textContent, Number(w.getAttribute('data-points') || 0)]),
  canvases: widgets.filter(w => w.querySelector('canvas').width > 0).length,
  chart_library: typeof window.Chart,
  failed: [...document.querySelectorAll('#failures .failure')].map(f => f.textContent),
  graph_failed: [...document.querySelectorAll('#graph g.failed')].map(g => g.getAttribute('data-state')),
  alerts: [...document.querySelectorAll('#inbox .alert')].map(a => [
    a.querySelector('.subject').textContent, a.querySelector('pre').textContent]),
  tables: [...document.querySelectorAll('#table-rows tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]),
};
"""


@contextmanager
def chromium() -> Iterator[Any]:
    """A Selenium WebDriver on Debian's chromium; quits on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def read_page(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script(_READ))
