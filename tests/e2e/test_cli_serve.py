"""``billfold serve``: API keys from the command line, and the server answering on a port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from billfold.adapters.cli.app import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_are_created_once_listed_without_secrets_and_revoked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run("db", "upgrade", "--database-url", url)
    run("billers", "create", "s1", "一中", "--kind", "school", "--database-url", url)
    code, out, err = run("serve", "keys", "create", "s1", "--scope", "write", "--database-url", url)
    assert code == 0, err
    header, secret = out.strip().splitlines()
    key_id = header.split()[1]
    assert header == f"key {key_id} (s1, bursar,reconciler)" and secret.startswith(f"bf_{key_id}_")
    assert "cannot be shown again" in err
    code, out, _ = run("serve", "keys", "list", "--database-url", url)
    assert key_id in out and secret not in out and "active" in out
    code, out, _ = run("serve", "keys", "revoke", key_id, "--database-url", url)
    assert code == 0 and out.strip() == f"revoked key {key_id}"
    code, out, _ = run("serve", "keys", "list", "--database-url", url)
    assert "revoked" in out


def test_keys_create_needs_a_biller_or_back_office(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    code, _, err = run("serve", "keys", "create", "--database-url", url)
    assert code == 1
    assert "give a BILLER code, or --back-office" in err


def test_revoking_an_unknown_key_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run("db", "upgrade", "--database-url", url)
    code, _, err = run("serve", "keys", "revoke", "nope", "--database-url", url)
    assert code == 1 and "API key 'nope' does not exist" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_on_the_port_it_was_given(tmp_path: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'b.db'}"
    main = "from billfold.adapters.cli.app import main; main()"
    command = [sys.executable, "-c", main, "serve", "--port", str(port), "--database-url", url]
    server = subprocess.Popen(command, env={**os.environ}, stderr=subprocess.PIPE)
    try:
        answer = None
        for _ in range(100):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/billers", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, "the server did not start"
        assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
        assert answer.headers["x-request-id"]
    finally:
        server.terminate()
        server.wait(timeout=10)
