"""No request the published OpenAPI document allows makes the API answer 5xx — nor the same
request made hostile (a NUL in every string, a yuan amount past the 64-bit range).

Schemathesis generates cases for every operation of docs/openapi.json (a bounded, derandomized
run: a few examples per operation, the same ones every time); each is sent to the ASGI app
over a real database as generated and once more made hostile, with a back-office key and with
a biller's key. Every answer under 500 is fine here (refusals are tested elsewhere); a 5xx is
a defect."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NOT_SET

from billfold import Biller, BillerKind, Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import Scope, create_key
from billfold.adapters.http.ratelimit import RateLimit

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = 4  # per operation; about 40 operations, two keys, two variants
BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"


@pytest.fixture
def app_client(engine: Engine) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    keys = {
        "office": create_key(engine, None, Scope.WRITE).secret,
        "biller": create_key(engine, "s1", Scope.WRITE).secret,
    }
    app = create_app(engine, rate_limit=RateLimit(per_second=100_000, burst=100_000))
    with asgi_client(app) as client:
        yield client, keys


HUGE_YUAN = "99999999999999999999.99"


def _hostile(value: Any, name: str = "") -> Any:
    """Every string with a NUL in it; every amount-like field past the 64-bit range."""
    if isinstance(value, str):
        return (
            HUGE_YUAN if name in ("amount", "per_debit_limit", "monthly_limit") else value + "\x00"
        )
    if isinstance(value, dict):
        return {k: _hostile(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hostile(v, name) for v in value]
    return value


@dataclass(frozen=True)
class Sent:
    """One request to send: a generated case's parts, as generated or made hostile."""

    method: str
    path: str
    query: dict[str, Any]
    body: Any
    media_type: str | None
    headers: dict[str, str]

    @classmethod
    def of(cls, case: Any, hostile: bool) -> Sent:
        change = _hostile if hostile else (lambda value: value)
        path = case.operation.path
        for name, value in change(dict(case.path_parameters or {})).items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        headers = {k: str(v) for k, v in (case.headers or {}).items()}
        body = case.body if case.body is NOT_SET else change(case.body)
        return cls(
            case.method, path, change(dict(case.query or {})), body, case.media_type, headers
        )

    def send(self, client: httpx.Client, key: str) -> httpx.Response:
        headers = {**self.headers, "Authorization": f"Bearer {key}"}
        options: dict[str, Any] = {"params": self.query or None, "headers": headers}
        if self.body is not NOT_SET:
            if self.media_type and "json" in self.media_type:
                options["content"] = json.dumps(self.body).encode("utf-8", "surrogatepass")
                headers["Content-Type"] = self.media_type
            elif isinstance(self.body, bytes | str):
                options["content"] = self.body
                headers["Content-Type"] = self.media_type or "application/octet-stream"
        return client.request(self.method, self.path, **options)


def test_no_generated_request_makes_the_api_answer_5xx(
    app_client: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, keys = app_client
    schema = schemathesis.openapi.from_path(OPENAPI)
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def probe(case: Any) -> None:
            for sent in (Sent.of(case, False), Sent.of(case, True)):
                for who, key in keys.items():
                    answer = sent.send(client, key)
                    if answer.status_code >= 500:
                        failures.append(
                            f"{who} {sent.method} {sent.path} query={sent.query!r} "
                            f"body={sent.body!r}: {answer.status_code} {answer.text[:200]}"
                        )

        probe()
    assert failures == [], "\n".join(failures[:20])
    assert time.monotonic() - started < 120
