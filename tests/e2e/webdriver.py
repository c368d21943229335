"""Browser tests' shared machinery: headless Chromium driven over the W3C WebDriver protocol
(chromedriver, spoken with httpx — nothing to install from PyPI), ``billfold serve`` started
on a free port, and screenshots in ``$BILLFOLD_TEST_ARTIFACTS`` (default ``tests/artifacts/``).

* :class:`Browser` — the few WebDriver commands the tests need.
* :func:`chromedriver` — a context manager: chromedriver running and a browser session
  (a phone with a User-Agent, or a desktop window). Use one per test module.
* :func:`serve` — ``billfold serve`` on a database until the block ends.
* :class:`ConsoleSite` and :func:`console_site` — the console served over a database seeded
  with two billers and a user of each role (``console_world.seed_world``), and logging in.

Tests using these are skipped when Chromium or chromedriver is missing (:data:`NEEDS_BROWSER`);
CI installs both, so they run there.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from billfold import Engine
from billfold.clock import SystemClock

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element key
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DESKTOP = (1280, 900)
TABLET = (1024, 768)


def _which(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


CHROMIUM = _which(BROWSERS)
CHROMEDRIVER = _which(("chromedriver",))
NEEDS_BROWSER = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="the browser test needs Chromium and chromedriver on PATH (Debian: apt install "
    f"chromium chromium-driver); found chromium={CHROMIUM}, chromedriver={CHROMEDRIVER}",
)


def artifacts() -> Path:
    default = Path(__file__).resolve().parents[1] / "artifacts"
    where = Path(os.environ.get("BILLFOLD_TEST_ARTIFACTS") or default)
    where.mkdir(parents=True, exist_ok=True)
    return where


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(600):
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"{what} exited with {process.returncode}: {err}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Browser:
    """A WebDriver session: just the few commands the tests need."""

    def __init__(
        self,
        driver: str,
        *,
        phone: dict[str, Any] | None = None,
        user_agent: str | None = None,
        window: tuple[int, int] = DESKTOP,
    ) -> None:
        self.http = httpx.Client(base_url=driver, timeout=60)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        options: dict[str, Any] = {"binary": CHROMIUM, "args": args}
        if phone is not None:
            options["mobileEmulation"] = {"deviceMetrics": phone, "userAgent": user_agent}
        else:
            args.append(f"--window-size={window[0]},{window[1]}")
        caps = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        answer = self.call("POST", "/session", {"capabilities": caps})
        self.session = f"/session/{answer['sessionId']}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, path, json=body)
        value = answer.json()["value"]
        if answer.status_code != 200:
            raise AssertionError(f"WebDriver {method} {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self.call("POST", f"{self.session}/url", {"url": url})

    def find(self, css: str) -> str:
        found = self.call(
            "POST", f"{self.session}/element", {"using": "css selector", "value": css}
        )
        return str(found[ELEMENT])

    def type(self, css: str, text: str) -> None:
        self.call("POST", f"{self.session}/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self.call("POST", f"{self.session}/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        return str(self.call("GET", f"{self.session}/element/{self.find(css)}/text"))

    def script(self, source: str) -> Any:
        return self.call("POST", f"{self.session}/execute/sync", {"script": source, "args": []})

    def url(self) -> str:
        return str(self.call("GET", f"{self.session}/url"))

    def clear_cookies(self) -> None:
        self.call("DELETE", f"{self.session}/cookie")

    def resize(self, width: int, height: int) -> None:
        self.call("POST", f"{self.session}/window/rect", {"width": width, "height": height})

    def screenshot(self, name: str) -> Path:
        path = artifacts() / f"{name}.png"
        path.write_bytes(base64.b64decode(self.call("GET", f"{self.session}/screenshot")))
        return path

    def wait_for(self, source: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.script(source)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {source}")

    def quit(self) -> None:
        try:
            self.call("DELETE", self.session)
        finally:
            self.http.close()


def cjk_fonts(where: Path) -> dict[str, str]:
    """Let Chromium find the Noto Sans SC that billfold's ``cjk`` extra ships, so that the
    screenshots show the Chinese text on machines without CJK system fonts."""
    found = importlib.util.find_spec("pylopdf_fonts_zh_cn")
    if found is None or not found.submodule_search_locations:
        return {}
    fonts = where / "fonts.conf"
    fonts.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{next(iter(found.submodule_search_locations))}</dir>"
        f"<cachedir>{where / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    return {"FONTCONFIG_FILE": str(fonts)}


@contextmanager
def chromedriver(scratch: Path, **browser: Any) -> Iterator[Browser]:
    """chromedriver on a free port and one browser session (``Browser``'s options)."""
    assert CHROMEDRIVER is not None
    port = free_port()
    env = {**os.environ, **cjk_fonts(scratch)}
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/status", driver, "chromedriver")
        session = Browser(f"http://127.0.0.1:{port}", **browser)
        try:
            yield session
        finally:
            session.quit()
    finally:
        stop(driver)


@contextmanager
def serve(db_url: str, cwd: Path, *args: str, ready: str = "/healthz") -> Iterator[str]:
    """``billfold serve [args]`` on ``db_url`` until the block ends: its base URL."""
    port = free_port()
    main = "from billfold.adapters.cli.app import main; main()"
    command = [sys.executable, "-c", main, "serve", *args, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--database-url", db_url],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}{ready}", process, "billfold serve")
        yield base
    finally:
        stop(process)


def backend(db_url: str) -> str:
    return "pg" if db_url.startswith("postgresql") else "sqlite"


@dataclass(frozen=True)
class ConsoleSite:
    """The console served over a seeded database."""

    base: str
    db_url: str

    def engine(self) -> Engine:
        """An engine on the site's database (close it), to check what a page did."""
        return Engine.from_url(self.db_url, clock=SystemClock())

    def login(self, browser: Browser, username: str, password: str | None = None) -> None:
        """Log ``username`` in (after logging whoever was in out) and wait for the home."""
        from console_world import PASSWORD  # type: ignore[import-not-found]

        browser.clear_cookies()
        browser.open(f"{self.base}/console/login")
        browser.type("#username", username)
        browser.type("#password", password or PASSWORD)
        browser.click("#login-form button[type=submit]")
        browser.wait_for("return document.getElementById('who') !== null")


Seed = Callable[[Engine], None]


@contextmanager
def console_site(scratch: Path, seed: Seed | None = None) -> Iterator[ConsoleSite]:
    """``billfold serve`` over a fresh SQLite database in ``scratch``, seeded with the console
    world (two billers, a user per role, password ``console_world.PASSWORD``) and ``seed``."""
    from console_world import seeded  # type: ignore[import-not-found]

    db_url = f"sqlite:///{scratch / 'console.db'}"
    engine = Engine.from_url(db_url, clock=SystemClock(), upgrade=True)
    try:
        seeded(engine)
        if seed is not None:
            seed(engine)
    finally:
        engine.close()
    with serve(db_url, scratch, ready="/console/login") as base:
        yield ConsoleSite(base, db_url)
