"""The banks' own apps for ``billfold serve``: ``--bank-app-marker`` (repeatable) and
``BILLFOLD_BANK_APP_MARKERS`` (comma-separated, read by every worker's ``build_app``) make
the payer pages opened in such an app pay through mobile banking."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from billfold import Biller, BillerKind, Engine
from billfold.adapters.cli.app import app
from billfold.adapters.cli.serve import build_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.merchants.channel_config import ChannelConfig

runner = CliRunner()
BANK_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36 "
    "ExampleBank/7.1.0"
)
BANK_APP_MARKERS_ENV = "BILLFOLD_BANK_APP_MARKERS"  # the name the docs give
EVERY_FLOW = ["wechat_jsapi", "alipay_wap", "unionpay", "bank_app"]


def seed(engine: Engine) -> None:
    """A college taking the aggregated QR and mobile banking, with one bill (C2)."""
    engine.create_biller(Biller(code="c2", name="城西学院", kind=BillerKind.SCHOOL))
    qr = ChannelConfig(
        "qr",
        merchant_id="M-C2",
        settings={
            "merchant_name_en": "TEST COLLEGE",
            "merchant_city_en": "HANGZHOU",
            "notify_key_env": "TEST_QR_KEY_C2",
        },
    )
    bank = ChannelConfig(
        "mobile_banking", merchant_id="BANK-C2", settings={"bank_public_key_env": "TEST_BANK_C2"}
    )
    for config in (qr, bank):
        engine.set_channel_config("c2", config, actor="test", reason="onboarding")
    engine.import_bills("c2", b"bill_no,payer_id,amount\nC2,2026201,300.00\n")


def flows(page: str) -> list[str]:
    return re.findall(r'name="flow" value="([^"]+)"', page)


@pytest.fixture
def worker_env(db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``billfold serve --sandbox`` leaves in a worker's environment."""
    seed(engine)
    monkeypatch.setenv("BILLFOLD_DATABASE_URL", db_url)
    monkeypatch.setenv("BILLFOLD_SERVE_SANDBOX", "1")
    monkeypatch.delenv("BILLFOLD_SERVE_CHANNELS", raising=False)
    monkeypatch.delenv(BANK_APP_MARKERS_ENV, raising=False)


def bank_app_page() -> tuple[list[str], tuple[str, ...]]:
    """The flows a worker built now offers the bank's app, and the markers it holds."""
    served = build_app()
    state = served.state  # type: ignore[attr-defined]
    try:
        with asgi_client(served) as client:  # type: ignore[arg-type]
            page = client.get("/pay/b/c2/bills/C2", headers={"User-Agent": BANK_UA})
        return flows(page.text), state.bank_app_markers
    finally:
        state.billfold.engine.close()


def test_a_worker_takes_its_bank_app_markers_from_the_environment(
    worker_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BANK_APP_MARKERS_ENV, " OtherBank ,, examplebank/ ")
    assert bank_app_page() == (["bank_app"], ("OtherBank", "examplebank/"))


def test_a_worker_without_markers_offers_a_bank_app_every_way(worker_env: None) -> None:
    assert bank_app_page() == (EVERY_FLOW, ())


def test_a_worker_without_the_sandbox_passes_the_markers_to_create_app(
    worker_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLFOLD_SERVE_SANDBOX", "")
    monkeypatch.setenv(BANK_APP_MARKERS_ENV, "ExampleBank/")
    served = build_app()
    try:
        assert served.state.bank_app_markers == ("ExampleBank/",)  # type: ignore[attr-defined]
    finally:
        served.state.billfold.engine.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--bank-app-marker", "ExampleBank/", "--bank-app-marker", "ab"],
            "",
            "--bank-app-marker: bank app User-Agent marker 'ab' must be a string of 3+ characters",
        ),
        (
            ["--bank-app-marker", "ExampleBank/,OtherBank"],
            "",
            "--bank-app-marker 'ExampleBank/,OtherBank': a marker cannot contain a comma",
        ),
        (
            [],
            "ExampleBank/, x",
            f"{BANK_APP_MARKERS_ENV}: bank app User-Agent marker 'x' must be a string of 3+ "
            "characters",
        ),
    ],
)
def test_serve_refuses_a_bad_bank_app_marker_before_setting_anything_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: str, message: str
) -> None:
    monkeypatch.setenv(BANK_APP_MARKERS_ENV, env)
    # a database that cannot be opened: serving it would fail at once, not listen forever
    url = f"sqlite:///{tmp_path / 'missing' / 'b.db'}"
    result = runner.invoke(app, ["serve", *args, "--database-url", url])
    assert result.exit_code == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was set up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """``billfold serve --sandbox --bank-app-marker ExampleBank/`` on the test database."""
    seed(engine)
    port = free_port()
    main = "from billfold.adapters.cli.app import main; main()"
    command = [sys.executable, "-c", main, "serve", "--sandbox", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != BANK_APP_MARKERS_ENV}
    process = subprocess.Popen(
        [*command, "--bank-app-marker", "ExampleBank/", "--database-url", db_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"billfold serve exited with {process.returncode}: {err}")
            try:
                httpx.get(f"{base}/pay/lookup", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_serve_with_a_bank_app_marker_starts_the_bank_app_on_mobile_banking(
    served: str, engine: Engine
) -> None:
    page = httpx.get(f"{served}/pay/b/c2/bills/C2", headers={"User-Agent": BANK_UA})
    assert flows(page.text) == ["bank_app"]
    found = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert found
    answer = httpx.post(
        f"{served}/pay/b/c2/orders",
        data={"request_id": found.group(1), "flow": "bank_app", "bill_no": "C2"},
        headers={"User-Agent": BANK_UA},
    )
    assert answer.status_code == 303
    order_no = answer.headers["location"].rsplit("/", 1)[1]
    assert engine.order(order_no).channel == "mobile_banking"
    # a phone's browser is still offered every way
    page = httpx.get(f"{served}/pay/b/c2/bills/C2", headers={"User-Agent": "Mozilla/5.0"})
    assert flows(page.text) == EVERY_FLOW
