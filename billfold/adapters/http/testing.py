"""Helpers for testing code against billfold's HTTP API without mocks: the app in process
(``fastapi.testclient``), on a real engine, with the keys you created."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from billfold.engine import Engine

__all__ = ["ApiClient"]


@dataclass
class ApiClient:
    """A test client with named API keys: ``api.auth("s1")`` gives the headers for key s1."""

    client: TestClient
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}
