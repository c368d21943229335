"""The worker's configuration: schedules and each duty's settings, from a TOML or JSON file.

Every key is optional; what is left out takes the default shown (docs/jobs.md has the
same example)::

    timezone = "Asia/Shanghai"      # wall-clock times below are read in this zone
    continuous_seconds = 5          # how often the outbox's "continuous" schedule passes

    [schedule]                      # see billfold.jobs.schedule for the forms
    outbox = "continuous"
    expiry = "every 1m"
    requery = "every 5m"
    refunds = "every 5m"
    autodebit = "every 15m"
    bureau = "every 1m"
    reminders = "every 1m"
    nonces = "every 1h"
    reconcile = "daily 10:00"
    settle = "after reconcile"

    [outbox]
    batch = 100                     # events fanned out and deliveries tried per pass
    timeout = 10.0                  # HTTP timeout, seconds
    lease_seconds = 300             # a claimed delivery is retried after this if unanswered
    max_attempts = 8

    [requery]
    older_than_minutes = 10         # orders paying longer than this are asked about

    [nonces]
    older_than_minutes = 60         # at least 10

    [autodebit]
    notice_hours = 24.0

    [bureau]                        # presale: no url, no pushes (booking still runs)
    url = ""
    secret_env = "BILLFOLD_BUREAU_SECRET"
    timeout = 10.0

    [reminders]                     # payer reminders (docs/reminders.md)
    mode = "sandbox"                # "live": send to the SMS / WeChat APIs for real
    batch = 100
    max_attempts = 5
    timeout = 10.0

    [reconcile]                     # no folder, nothing to reconcile
    folder = ""
    by = "worker"

    [settle]
    by = "worker"

Channels for the requery and refund duties come from ``--channels MODULE:FACTORY`` (or
``BILLFOLD_CHANNELS``), as for ``billfold reconcile requery``; without them those duties are
skipped, saying so in the log.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billfold.errors import ConfigurationError
from billfold.jobs.schedule import DEFAULTS, DUTIES, Schedule, parse_schedule

__all__ = ["WorkerConfig", "load_config", "parse_config"]

_SECTIONS: dict[str, dict[str, type]] = {
    "outbox": {"batch": int, "timeout": float, "lease_seconds": int, "max_attempts": int},
    "requery": {"older_than_minutes": int},
    "nonces": {"older_than_minutes": int},
    "autodebit": {"notice_hours": float},
    "bureau": {"url": str, "secret_env": str, "timeout": float},
    "reminders": {"mode": str, "batch": int, "max_attempts": int, "timeout": float},
    "reconcile": {"folder": str, "by": str},
    "settle": {"by": str},
}
_SETTINGS: dict[str, Any] = {
    "outbox.batch": 100,
    "outbox.timeout": 10.0,
    "outbox.lease_seconds": 300,
    "outbox.max_attempts": 8,
    "requery.older_than_minutes": 10,
    "nonces.older_than_minutes": 60,
    "autodebit.notice_hours": 24.0,
    "bureau.url": "",
    "bureau.secret_env": "BILLFOLD_BUREAU_SECRET",
    "bureau.timeout": 10.0,
    "reminders.mode": "sandbox",
    "reminders.batch": 100,
    "reminders.max_attempts": 5,
    "reminders.timeout": 10.0,
    "reconcile.folder": "",
    "reconcile.by": "worker",
    "settle.by": "worker",
}
_LIMITS: dict[str, tuple[float, float]] = {
    "outbox.batch": (1, 10_000),
    "outbox.timeout": (0.1, 120),
    "outbox.lease_seconds": (1, 86_400),
    "outbox.max_attempts": (1, 100),
    "requery.older_than_minutes": (1, 7 * 24 * 60),
    "nonces.older_than_minutes": (10, 7 * 24 * 60),
    "autodebit.notice_hours": (0, 24 * 30),
    "bureau.timeout": (0.1, 120),
    "reminders.batch": (1, 10_000),
    "reminders.max_attempts": (1, 100),
    "reminders.timeout": (0.1, 120),
}
_CHOICES: dict[str, tuple[str, ...]] = {"reminders.mode": ("sandbox", "live")}


@dataclass(frozen=True)
class WorkerConfig:
    timezone: str = "Asia/Shanghai"
    continuous_seconds: int = 5
    schedules: dict[str, Schedule] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=lambda: dict(_SETTINGS))

    def schedule(self, duty: str) -> Schedule:
        return self.schedules[duty]

    def get(self, key: str) -> Any:
        """A duty's setting by its dotted name (``"outbox.batch"``)."""
        return self.settings[key]


def load_config(path: Path | None) -> WorkerConfig:
    """The configuration in ``path`` (``.toml`` or ``.json``), or the defaults for ``None``."""
    if path is None:
        return parse_config({})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"--config: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"--config: {path.name} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"--config: {path.name} must hold a table of settings")
    return parse_config(data)


def parse_config(data: dict[str, Any]) -> WorkerConfig:
    """A :class:`WorkerConfig` from parsed TOML/JSON; unknown keys and bad values are refused
    by name, so a typo never silently leaves a default in place."""
    known = {"timezone", "continuous_seconds", "schedule", *_SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigurationError(f"config: unknown key {key!r}; known: {', '.join(known)}")
    zone = data.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"timezone: {zone!r} is not a known time zone") from None
    continuous = data.get("continuous_seconds", 5)
    if not isinstance(continuous, int) or isinstance(continuous, bool):
        raise ConfigurationError("continuous_seconds: must be a whole number of seconds")
    schedules = _schedules(_table(data, "schedule"), continuous)
    settings = dict(_SETTINGS)
    for section, types in _SECTIONS.items():
        for key, value in _table(data, section).items():
            settings[f"{section}.{key}"] = _setting(section, key, value, types)
    return WorkerConfig(str(zone), continuous, schedules, settings)


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{name}: must be a table of settings")
    return table


def _schedules(given: dict[str, Any], continuous: int) -> dict[str, Schedule]:
    for duty in given:
        if duty not in DUTIES:
            raise ConfigurationError(f"schedule.{duty}: no such duty; known: {', '.join(DUTIES)}")
    out: dict[str, Schedule] = {}
    for duty in DUTIES:
        text = given.get(duty, DEFAULTS[duty])
        if not isinstance(text, str):
            raise ConfigurationError(f"schedule.{duty}: must be text such as 'every 5m'")
        out[duty] = parse_schedule(duty, text, continuous_seconds=continuous)
    return out


def _setting(section: str, key: str, value: Any, types: dict[str, type]) -> Any:
    name = f"{section}.{key}"
    if key not in types:
        raise ConfigurationError(f"{name}: unknown setting; known: {', '.join(types)}")
    wanted = types[key]
    if isinstance(value, bool) or not (
        isinstance(value, wanted) or (wanted is float and isinstance(value, int))
    ):
        raise ConfigurationError(f"{name}: must be {wanted.__name__}, got {value!r}")
    given: Any = value
    if name in _LIMITS:
        low, high = _LIMITS[name]
        if not low <= given <= high:
            raise ConfigurationError(f"{name}: must be between {low:g} and {high:g}, got {given}")
    if name in _CHOICES and given not in _CHOICES[name]:
        raise ConfigurationError(
            f"{name}: must be one of {', '.join(_CHOICES[name])}, got {given!r}"
        )
    return float(given) if wanted is float else given
