"""Helpers for testing code against billfold's HTTP API without mocks: the app in process
(an ``httpx.Client`` over the ASGI app, see ``asgi_client``), on a real engine, with the keys
you created."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from billfold.engine import Engine
from billfold.extras import requires_extra

with requires_extra("server"):
    from fastapi import FastAPI

__all__ = ["ApiClient"]


@dataclass
class ApiClient:
    """A client with named API keys: ``api.auth("s1")`` gives the headers for key s1."""

    client: httpx.Client
    app: FastAPI
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}
