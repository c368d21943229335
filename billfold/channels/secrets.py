"""Channel secrets: where a biller's keys live, and the merchants a channel collects through.

A biller's channel settings never hold a secret; they *name* where it lives, with a suffix
saying how to find it: ``api_v3_key_env: "S1_WECHAT_V3_KEY"`` (an environment variable) or
``private_key_file: "/etc/billfold/s1/apiclient_key.pem"`` (a file). A set of secrets keyed
by a label (a WeChat Pay platform key per serial) is a mapping under the same suffixes:
``platform_keys_file: {"PUB_KEY_ID_0114...": "/etc/billfold/s1/pub_key.pem"}``.

:class:`EnvSecrets` reads the real environment and files; :class:`DictSecrets` answers from a
dict keyed by the same names and paths, for tests and the sandbox. Error messages name the
setting, the variable or the path, never the secret.

:class:`MerchantDirectory` holds the credentials of every merchant a channel collects
through, loaded from the billers' channel configurations and found by a key the
notification carries (a platform key serial, an app id).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from billfold.channels.ports import ChannelHost
from billfold.channels.verification import load_private_key
from billfold.collection.order import Order
from billfold.errors import BillfoldError, ConfigurationError
from billfold.merchants.channel_config import ChannelConfig

__all__ = [
    "DictSecrets",
    "EnvSecrets",
    "MerchantDirectory",
    "OrderSettings",
    "Secrets",
    "channel_settings",
    "private_key",
    "secret",
    "secret_map",
    "text_setting",
]

log = structlog.get_logger("billfold.channels")

Kind = Literal["env", "file"]
_KINDS: tuple[Kind, ...] = ("env", "file")


class Secrets(Protocol):
    """Reads a secret from where a setting points: an environment variable or a file."""

    def lookup(self, kind: Kind, reference: str) -> bytes | None:
        """The secret, or ``None`` when the variable is unset or the file cannot be read."""
        ...


class EnvSecrets:
    """The process environment and the file system (``base_dir`` anchors relative paths)."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, base_dir: Path | None = None
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.base_dir = base_dir

    def lookup(self, kind: Kind, reference: str) -> bytes | None:
        if kind == "env":
            value = self.environ.get(reference)
            return value.encode("utf-8") if value else None
        path = Path(reference)
        if self.base_dir is not None and not path.is_absolute():
            path = self.base_dir / path
        try:
            return path.read_bytes()
        except OSError:
            return None


class DictSecrets:
    """Secrets from a dict keyed by variable name or file path, for tests and the sandbox."""

    def __init__(self, values: Mapping[str, str | bytes]) -> None:
        self.values = {
            name: value.encode("utf-8") if isinstance(value, str) else bytes(value)
            for name, value in values.items()
        }

    def lookup(self, kind: Kind, reference: str) -> bytes | None:
        return self.values.get(reference) or None


def _describe(kind: Kind, reference: str) -> str:
    if kind == "env":
        return f"environment variable {reference!r}, which is not set"
    return f"file {reference!r}, which cannot be read"


def _reference(settings: Mapping[str, Any], name: str, where: str) -> tuple[Kind, Any]:
    given = [(kind, settings[f"{name}_{kind}"]) for kind in _KINDS if f"{name}_{kind}" in settings]
    if not given:
        raise ConfigurationError(f"{where}: set {name}_env or {name}_file")
    if len(given) > 1:
        raise ConfigurationError(f"{where}: set only one of {name}_env and {name}_file")
    return given[0]


def _read(secrets: Secrets, kind: Kind, reference: Any, setting: str, where: str) -> bytes:
    if not isinstance(reference, str) or not reference:
        raise ConfigurationError(f"{where}: {setting} must name a variable or a file")
    value = secrets.lookup(kind, reference)
    if value is None:
        raise ConfigurationError(f"{where}: {setting} names {_describe(kind, reference)}")
    return value


def text_setting(settings: Mapping[str, Any], name: str, where: str) -> str:
    """A required, non-empty text setting (an app or merchant id, a certificate serial)."""
    value = settings.get(name)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {name} is not set")
    return value


def secret(secrets: Secrets, settings: Mapping[str, Any], name: str, *, where: str) -> bytes:
    """The secret ``name`` (``name_env`` or ``name_file`` in ``settings``)."""
    kind, reference = _reference(settings, name, where)
    return _read(secrets, kind, reference, f"{name}_{kind}", where)


def secret_map(
    secrets: Secrets, settings: Mapping[str, Any], name: str, *, where: str
) -> dict[str, bytes]:
    """Labelled secrets: ``name_env`` and/or ``name_file`` map labels to variables or files."""
    found: dict[str, bytes] = {}
    for kind in _KINDS:
        setting = f"{name}_{kind}"
        references = settings.get(setting)
        if references is None:
            continue
        if not isinstance(references, Mapping) or not references:
            raise ConfigurationError(f"{where}: {setting} must map labels to references")
        for label, reference in references.items():
            if label in found:
                raise ConfigurationError(f"{where}: {name} {label!r} is set twice")
            found[str(label)] = _read(secrets, kind, reference, f"{setting}[{label!r}]", where)
    if not found:
        raise ConfigurationError(f"{where}: set {name}_env or {name}_file")
    return found


@functools.lru_cache(maxsize=64)
def private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """:func:`~billfold.channels.verification.load_private_key`, remembered by content:
    checking an RSA private key takes tens of milliseconds, and a rotated key is new content."""
    return load_private_key(pem)


def channel_settings(config: ChannelConfig) -> dict[str, Any]:
    """A biller's settings for a channel as channels see them (``CollectRequest.settings``)."""
    return {"merchant_id": config.merchant_id, "app_id": config.app_id, **config.settings}


@dataclass(frozen=True, slots=True)
class OrderSettings:
    """An order (``None`` if billfold never issued that number) and its biller's settings for
    the channel (``None`` when the biller has not configured the channel)."""

    order: Order | None
    biller_code: str | None
    settings: dict[str, Any] | None


T = TypeVar("T")


class MerchantDirectory(Generic[T]):
    """Credentials of the merchants a channel collects through, found by a notification key.

    ``load(biller_code, settings)`` builds one merchant's credentials from a biller's channel
    settings; ``keys(credentials)`` lists what notifications name it by. Merchants seen by
    ``remember`` (every ``start``) are kept; an unknown key reloads every biller's settings
    once, so a new biller or a rotated key is found without a restart. A biller whose secrets
    cannot be loaded is logged and skipped, so it cannot stop the others' notifications.
    """

    def __init__(
        self,
        engine: ChannelHost,
        channel: str,
        load: Callable[[str, Mapping[str, Any]], T],
        keys: Callable[[T], Iterable[str]],
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.load = load
        self.keys = keys
        self._by_key: dict[str, T] = {}

    def remember(self, credentials: T) -> T:
        for key in self.keys(credentials):
            self._by_key[key.upper()] = credentials
        return credentials

    def forget(self, key: str) -> None:
        self._by_key.pop(key.upper(), None)

    def find(self, key: str) -> T | None:
        found = self._by_key.get(key.upper())
        if found is None:
            self.reload()
            found = self._by_key.get(key.upper())
        return found

    def known(self) -> dict[str, T]:
        return dict(self._by_key)

    def reload(self) -> None:
        with self.engine.uow() as uow:
            configs = [
                (biller.code, config)
                for biller in uow.billers.list()
                if biller.id is not None
                for config in uow.channels.configs(biller.id)
                if config.channel == self.channel
            ]
        for biller_code, config in configs:
            try:
                self.remember(self.load(biller_code, channel_settings(config)))
            except BillfoldError as exc:
                log.warning(
                    "channel credentials not loaded",
                    channel=self.channel,
                    biller=biller_code,
                    problem=exc.message,
                )

    def settings_for_order(self, order_no: str) -> OrderSettings:
        """The order, its biller and the biller's current settings for the channel, read in
        one round trip (a notification is verified against the settings as they are now)."""
        order, biller_code, config = self.engine.order_channel_settings(order_no, self.channel)
        if order is None:
            return OrderSettings(None, None, None)
        return OrderSettings(
            order, biller_code, None if config is None else channel_settings(config)
        )
