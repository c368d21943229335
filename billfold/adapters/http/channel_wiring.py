"""Which channels a served API receives notifications for: ``billfold serve --channels``.

billfold ships channel modules but not the operator's clients for each channel's remote API,
so the process that serves ``/v1/notify/{channel}`` is told where to find a factory:
``package.module:function`` (importable) or ``path/to/file.py:function``. The factory is
called once per worker with that worker's :class:`~billfold.engine.Engine` and returns the
channels by name.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

from billfold.channels.base import Channel
from billfold.engine import Engine
from billfold.errors import ConfigurationError, InvariantViolated

__all__ = ["ENV_VAR", "ChannelFactory", "load_factory"]

ENV_VAR = "BILLFOLD_SERVE_CHANNELS"  # how ``billfold serve`` tells its workers

ChannelFactory = Callable[[Engine], Mapping[str, Channel]]


def load_factory(spec: str) -> ChannelFactory:
    """The factory named by ``spec``; ConfigurationError saying what is wrong otherwise."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ConfigurationError(
            f"--channels {spec!r}: expected MODULE:FUNCTION or path/to/file.py:FUNCTION"
        )
    if where.endswith(".py"):
        path = Path(where).resolve()
        if not path.is_file():
            raise ConfigurationError(f"--channels {spec!r}: no file {where}")
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        found = importlib.util.spec_from_file_location(f"billfold_channels_{digest}", path)
        if not (found is not None and found.loader is not None):
            raise InvariantViolated("expected found is not None and found.loader is not None")
        module = sys.modules.get(found.name) or importlib.util.module_from_spec(found)
        if found.name not in sys.modules:
            sys.modules[found.name] = module  # dataclasses look their module up while it runs
            try:
                found.loader.exec_module(module)
            except BaseException:
                del sys.modules[found.name]
                raise
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigurationError(f"--channels {spec!r}: cannot import {where}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ConfigurationError(f"--channels {spec!r}: {where} has no function {name}")
    return cast(ChannelFactory, factory)
