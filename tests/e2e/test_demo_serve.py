"""``billfold demo --serve``: the demo runs, then its cashier is served on the port given and
the printed URLs open the stall's page and a payer's bills."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from billfold.demo.serve import demo_urls

MAIN = "from billfold.adapters.cli.app import main; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        into.put(line)


def test_demo_urls_name_the_stall_cashier_and_two_lookups() -> None:
    urls = demo_urls("0.0.0.0", 8123)
    assert urls.cashier == "http://127.0.0.1:8123/pay/b/demo-market"
    assert urls.lookups == (
        "http://127.0.0.1:8123/pay/b/demo-water?identifier=0101003&check=%E7%94%9F",
        "http://127.0.0.1:8123/pay/b/demo-school?identifier=2026004",
    )


def test_demo_serve_prints_a_cashier_url_that_answers(tmp_path: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    command = [sys.executable, "-c", MAIN, "demo", "--serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--database-url", url, "--out", str(tmp_path / "out")],
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        printed: dict[str, str] = {}
        deadline = time.monotonic() + 180
        while "bill lookup" not in printed and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert process.poll() is None, f"demo exited with {process.returncode}"
                continue
            label, sep, rest = line.strip().partition(": http")
            if sep:
                printed.setdefault(label, f"http{rest}")
        assert (
            printed["demo cashier (market stall)"] == f"http://127.0.0.1:{port}/pay/b/demo-market"
        )
        page = None
        for _ in range(100):
            try:
                page = httpx.get(printed["demo cashier (market stall)"], timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page is not None, "the demo cashier did not answer"
        assert page.status_code == 200
        assert "东门市场 刘记水果摊" in page.text and "输入付款金额" in page.text
        lookup = httpx.get(printed["bill lookup"], timeout=5)
        assert lookup.status_code == 200
        assert "城东自来水公司" in lookup.text and "W202608-0103" in lookup.text
    finally:
        process.terminate()
        process.wait(timeout=15)
