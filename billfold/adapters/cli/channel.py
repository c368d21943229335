"""``billfold channel``: verify saved channel notifications from the command line.

``billfold channel verify wechatpay`` and ``billfold channel verify alipay`` check a saved
callback exactly as the engine would, print the verified (and decrypted) content as JSON and
exit 0; or print ``rejected: <reason>`` to stderr and exit 1. Unreadable files and bad
options exit 2. No nonce replay check is made: the point is to replay saved callbacks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from billfold.errors import BillfoldError, ConfigurationError, SignatureInvalid

if TYPE_CHECKING:  # the channels' cryptography is imported when a command verifies
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["app"]

app = typer.Typer(
    help="Channel tools: verify saved WeChat Pay and Alipay notifications; forget old nonces."
)
verify_app = typer.Typer(
    help="Verify a saved notification offline. No nonce replay check is made (replaying "
    "saved callbacks is the point); the live endpoint does that."
)
app.add_typer(verify_app, name="verify")


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _rejected(message: str) -> NoReturn:
    typer.echo(f"rejected: {message}", err=True)
    raise typer.Exit(1)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _usage_error(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}")


def _public_key(path: Path, what: str) -> rsa.RSAPublicKey:
    from billfold.channels.verification import load_public_key

    try:
        return load_public_key(_read(path, what))
    except ConfigurationError as exc:
        _usage_error(f"{what} {str(path)!r}: {exc.message}")


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _headers(path: Path) -> dict[str, str]:
    try:
        value = json.loads(_read(path, "headers file").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _usage_error(f"headers file {str(path)!r} is not JSON: {exc}")
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        _usage_error(f"headers file {str(path)!r} must be a JSON object of strings")
    return value


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        _usage_error(f"--now {text!r} is not an ISO-8601 date-time")
    if value.tzinfo is None:
        _usage_error(f"--now {text!r} needs a UTC offset, e.g. 2024-01-05T10:00:00+08:00")
    return value


@verify_app.command("wechatpay")
def verify_wechatpay(
    headers: Annotated[
        Path, typer.Option("--headers", help="JSON object of the request's HTTP headers.")
    ],
    body: Annotated[Path, typer.Option("--body", help="The raw request body, byte for byte.")],
    platform_key: Annotated[
        list[str],
        typer.Option(
            "--platform-key",
            help="SERIAL=PEM_FILE: a platform certificate serial (or PUB_KEY_ID_...) and a "
            "PEM file holding the public key or certificate. Repeat for several.",
        ),
    ],
    api_v3_key: Annotated[
        str,
        typer.Option(
            "--api-v3-key",
            envvar="BILLFOLD_WECHATPAY_API_V3_KEY",
            help="The 32-character APIv3 key (or set BILLFOLD_WECHATPAY_API_V3_KEY).",
        ),
    ],
    now: Annotated[
        str | None,
        typer.Option("--now", help="Check freshness against this ISO-8601 instant."),
    ] = None,
    max_skew_minutes: Annotated[
        int, typer.Option("--max-skew-minutes", min=0, help="Allowed clock skew.")
    ] = 5,
) -> None:
    """Verify a WeChat Pay API v3 notification and print its decrypted content."""
    from billfold.channels import wechatpay_v3

    keys = _platform_keys(platform_key)
    header_map = _headers(headers)
    raw_body = _read(body, "body file")
    instant = _now(now)
    try:
        notification = wechatpay_v3.verify_notification(
            header_map,
            raw_body,
            keys,
            api_v3_key,
            instant,
            max_skew=timedelta(minutes=max_skew_minutes),
        )
    except ConfigurationError as exc:
        _usage_error(exc.message)
    except SignatureInvalid as exc:
        _rejected(exc.message)
    _print_json(notification.to_json_dict())


def _platform_keys(entries: list[str]) -> dict[str, rsa.RSAPublicKey]:
    """``SERIAL=PEM_FILE`` entries as serial -> public key."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    for entry in entries:
        serial, sep, pem_path = entry.partition("=")
        if not sep or not serial or not pem_path:
            _usage_error(f"--platform-key {entry!r} must look like SERIAL=PEM_FILE")
        keys[serial] = _public_key(Path(pem_path), "platform key file")
    return keys


@verify_app.command("alipay")
def verify_alipay(
    body: Annotated[
        Path, typer.Option("--body", help="The raw URL-encoded notification form body.")
    ],
    alipay_public_key: Annotated[
        Path,
        typer.Option(
            "--alipay-public-key",
            help="PEM file with the Alipay public key or Alipay public key certificate.",
        ),
    ],
) -> None:
    """Verify an Alipay RSA2 notification and print its parameters."""
    from billfold.channels import alipay_rsa2

    key = _public_key(alipay_public_key, "Alipay public key file")
    raw_body = _read(body, "form file")
    try:
        params = alipay_rsa2.verify_notification(alipay_rsa2.parse_form(raw_body), key)
    except BillfoldError as exc:  # unreadable forms are rejected just like bad signatures
        _rejected(exc.message)
    _print_json(params)


#: A notification older than this is refused by its timestamp (WeChat Pay's window is five
#: minutes either way), so its nonce can be forgotten; twice the window leaves room for skew.
SHORTEST_NONCE_MEMORY = timedelta(minutes=10)


@app.command("forget-nonces")
def forget_nonces(
    older_than: Annotated[
        int,
        typer.Option(
            "--older-than",
            help="Forget nonces seen more than this many minutes ago (at least 10)",
        ),
    ] = 60,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Database URL (default: BILLFOLD_DATABASE_URL)"),
    ] = None,
) -> None:
    """Prune the replay-check nonces the live notification endpoints keep. Run it from a
    scheduler (hourly, say); the table otherwise grows by one row per notification."""
    from billfold.adapters.cli.common import open_engine

    keep = timedelta(minutes=older_than)
    if keep < SHORTEST_NONCE_MEMORY:
        _usage_error(
            f"--older-than {older_than}: at least 10 minutes, or a replay still inside the "
            "notifications' five-minute timestamp window could pass"
        )
    with open_engine(database_url) as engine, engine.uow() as uow:
        gone = uow.channels.forget_nonces_before(engine.clock.now() - keep)
        uow.commit()
    typer.echo(f"forgot {gone} nonce(s) seen before the last {older_than} minutes")
