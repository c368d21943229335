"""structlog set-up: JSON lines for machines, a readable console for people.

Every line — billfold's own and the standard library's (uvicorn, SQLAlchemy, httpx), routed
through the same processors — goes through :func:`mask_personal_data`: known personal fields
are masked, secrets dropped, and free text (messages, exception messages and tracebacks, at
any depth of nested dicts and lists) scrubbed of ID, phone and card numbers. An exception is
logged as structured fields, ``exception = {type, message, traceback}``, not as ``exc_info: true``.

The format: ``BILLFOLD_LOG_FORMAT`` (``json`` or ``console``) when set; otherwise the console
renderer when stderr is a terminal or ``BILLFOLD_ENV`` is ``dev``, JSON everywhere else.

structlog is imported when logging is configured, not with this module: a command line's
start configures it with :func:`configure_logging_when_used`, on the first record, so that a
command that logs nothing imports neither structlog nor the rich tracebacks it brings.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from functools import lru_cache
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any

from billfold.masking import mask_account, mask_id_number, mask_name, mask_phone, scrub_text

if TYPE_CHECKING:
    import structlog

__all__ = [
    "LOG_FORMAT_ENV",
    "configure_logging",
    "configure_logging_when_used",
    "mask_personal_data",
    "structure_exception",
    "wants_json",
]

LOG_FORMAT_ENV = "BILLFOLD_LOG_FORMAT"
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
#: Values billfold makes itself (random hex, dates): scrubbing could only mangle them.
OWN_KEYS = frozenset({"request_id", "event_id", "order_no", "refund_no", "timestamp", "level"})
#: Standard-library loggers that talk too much at INFO for an operator's log (alembic says
#: "Context impl …" each time the readiness of the schema is checked).
QUIET_LOGGERS = ("httpx", "httpcore", "asyncio", "alembic")


def _is_secret(key: str) -> bool:
    return key in SECRET_KEYS or key.endswith("_secret") or key.endswith("_key")


def _keep(value: str) -> str:
    return value


def _redact(_value: Any) -> str:
    return "[redacted]"


@lru_cache(maxsize=4096)
def _rule(key: str) -> Callable[[Any], Any]:
    """What becomes of a value found under ``key`` (lower-cased), decided once per key:
    redacted, masked by its kind, kept (billfold's own), or scrubbed as free text."""
    if _is_secret(key):
        return _redact
    if key in MASKERS:
        return MASKERS[key]
    return _keep if key in OWN_KEYS else scrub_text


def _mask(key: str, value: Any) -> Any:
    """``value`` (found under ``key``, lower-cased) masked, at any depth."""
    rule = _rule(key)
    if rule is _redact:
        return "[redacted]"
    if isinstance(value, str):
        return rule(value)
    if isinstance(value, Mapping):
        return {k: _mask(str(k).lower(), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(key, item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub_text(str(value))  # anything else is logged as its text: scrub that


#: Values that are never masked unless their key names a secret.
_PLAIN = frozenset({int, float, bool, type(None)})


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask known personal fields, redact secrets, scrub free text —
    in nested dicts and lists too."""
    for key, value in event_dict.items():  # values replaced in place: no key added
        if key.startswith("_"):  # structlog's own bookkeeping (the stdlib record)
            continue
        if type(value) in _PLAIN and not _is_secret(key.lower()):
            continue  # a number, a flag or None shows nothing personal (most fields)
        event_dict[key] = _mask(key.lower(), value)
    return event_dict


def structure_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``exc_info`` (``True``, an exception or a ``sys.exc_info()``
    tuple) becomes ``exception = {type, message, traceback}``; masking runs after it."""
    info = event_dict.pop("exc_info", None)
    exc: BaseException | None = None
    if info is True:
        exc = sys.exc_info()[1]
    elif isinstance(info, BaseException):
        exc = info
    elif isinstance(info, tuple) and len(info) == 3:
        exc = info[1]
    if exc is None:
        return event_dict
    kind = type(exc)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    event_dict["exception"] = {
        "type": f"{module}{kind.__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    return event_dict


def _console_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """For the console: the (masked) traceback printed below the line, as people read it."""
    error = event_dict.get("exception")
    if isinstance(error, dict) and "traceback" in error:
        event_dict["exception"] = error["traceback"]
    return event_dict


def wants_json() -> bool:
    """JSON unless ``BILLFOLD_LOG_FORMAT=console``, stderr is a terminal or BILLFOLD_ENV=dev."""
    chosen = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if chosen in ("json", "console"):
        return chosen == "json"
    return not (os.environ.get("BILLFOLD_ENV", "prod") == "dev" or sys.stderr.isatty())


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    """Resolve stderr when logging, not when configuring (tools swap sys.stderr)."""
    import structlog

    return structlog.PrintLogger(file=sys.stderr)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _route_stdlib(chain: list[Any], renderer: Any, level: int) -> None:
    """Send the standard library's records (uvicorn's among them) through ``chain``."""
    import structlog

    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *chain],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root.addHandler(handler)
    _stdlib_levels(level)


def _stdlib_levels(level: int) -> None:
    logging.getLogger().setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn's own handlers print unmasked text
        logger.propagate = True
    for name in QUIET_LOGGERS:  # heard from only when debugging (-vv)
        logging.getLogger(name).setLevel(logging.WARNING if level >= logging.INFO else level)


def _level_number(level: str | None) -> int:
    name = (level or os.environ.get("BILLFOLD_LOG_LEVEL", "INFO")).upper()
    number = logging.getLevelName(name)
    return number if isinstance(number, int) else logging.INFO


def configure_logging(*, json: bool | None = None, level: str | None = None) -> None:
    """Configure structlog and the standard library's logging. ``json`` defaults to
    :func:`wants_json`; ``level`` to BILLFOLD_LOG_LEVEL or INFO."""
    import structlog

    _Pending.cancel()
    if json is None:
        json = wants_json()
    number = _level_number(level)
    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structure_exception,
        mask_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    if not json:
        chain.append(_console_exception)
    structlog.configure(
        processors=[*chain, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _route_stdlib(chain, renderer, number)


def configure_logging_when_used(*, level: str | None = None) -> None:
    """:func:`configure_logging` as it would be now (the format decided now), done on first
    use: when structlog is imported (billfold logs through it) or the standard library's
    logging handles a record (SQLAlchemy's, Alembic's), whichever comes first — the record
    is then written as configured. Until then the standard library's levels are set, and
    nothing is imported. structlog already imported: configured at once."""
    if "structlog" in sys.modules:
        configure_logging(level=level)
        return
    _Pending.cancel()
    pending = _Pending(wants_json(), level)
    _Pending.current = pending
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    root.addHandler(_ConfigureOnRecord(pending))
    _stdlib_levels(_level_number(level))
    sys.meta_path.insert(0, pending)


class _Pending(MetaPathFinder):
    """A configuration waiting for its first use; as a finder on ``sys.meta_path``, it has
    structlog's module configure logging once it is executed."""

    current: _Pending | None = None

    def __init__(self, json: bool, level: str | None) -> None:
        self.json = json
        self.level = level
        self.done = False

    @classmethod
    def cancel(cls) -> None:
        """Forget a waiting configuration (:func:`configure_logging` replaces it)."""
        pending, cls.current = cls.current, None
        if pending is not None:
            pending.done = True
            if pending in sys.meta_path:
                sys.meta_path.remove(pending)

    def fire(self) -> None:
        if not self.done:
            configure_logging(json=self.json, level=self.level)  # cancels this one

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "structlog" or self.done:
            return None
        for finder in sys.meta_path:  # whoever finds structlog, its loader then this one
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenConfigure(spec.loader, self)
                return spec
        return None


class _ThenConfigure(Loader):
    """A module's own loader, then the pending configuration once the module has run."""

    def __init__(self, loader: Loader, pending: _Pending) -> None:
        self._loader = loader
        self._pending = pending

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._pending.fire()

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, resource readers …
        return getattr(self._loader, name)


class _ConfigureOnRecord(_StderrHandler):
    """The root logger's handler while configuring waits: the first record configures
    logging (which replaces this handler) and is then handled as configured."""

    def __init__(self, pending: _Pending) -> None:
        super().__init__()
        self._pending = pending

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.fire()
        root = logging.getLogger()
        if self not in root.handlers:  # configured: the new handlers write it
            root.handle(record)
