"""structlog set-up: JSON lines in production, a readable console in development.

A processor masks personal data (names, phone, ID and card numbers) and drops secrets from
every event, whatever the caller passed.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from billfold.masking import mask_account, mask_id_number, mask_name, mask_phone

__all__ = ["configure_logging", "mask_personal_data"]

SECRET_KEYS = frozenset(
    {"secret", "api_key", "api_v3_key", "password", "private_key", "token", "authorization", "sign"}
)
MASKERS = {
    "name": mask_name,
    "payer_name": mask_name,
    "buyer_name": mask_name,
    "phone": mask_phone,
    "payer_phone": mask_phone,
    "mobile": mask_phone,
    "id_number": mask_id_number,
    "card_no": mask_account,
    "account_no": mask_account,
    "bank_account": mask_account,
}
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")


def _scrub_text(text: str) -> str:
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _PHONE.sub(r"\1****\2", text)


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask known personal fields, redact secrets, scrub free text."""
    for key in list(event_dict):
        value = event_dict[key]
        lowered = key.lower()
        if lowered in SECRET_KEYS or lowered.endswith("_secret") or lowered.endswith("_key"):
            event_dict[key] = "[redacted]"
        elif lowered in MASKERS and isinstance(value, str):
            event_dict[key] = MASKERS[lowered](value)
        elif isinstance(value, str):
            event_dict[key] = _scrub_text(value)
    return event_dict


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    """Resolve stderr when logging, not when configuring (tools swap sys.stderr)."""
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(*, json: bool | None = None, level: str | None = None) -> None:
    """Configure structlog. ``json`` defaults to on unless BILLFOLD_ENV is ``dev`` and stderr
    is a terminal; ``level`` defaults to BILLFOLD_LOG_LEVEL or INFO."""
    if json is None:
        json = not (os.environ.get("BILLFOLD_ENV", "prod") == "dev" and sys.stderr.isatty())
    name = (level or os.environ.get("BILLFOLD_LOG_LEVEL", "INFO")).upper()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(name)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
