"""An object that owns an :class:`httpx.Client` and closes it with itself."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

__all__ = ["HttpxClientOwner"]


class HttpxClientOwner:
    """Holds ``_client``; :meth:`close`, or leaving a ``with`` block, closes it."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
