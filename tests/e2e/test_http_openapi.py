"""The OpenAPI document checked into docs/openapi.json is the one the app serves."""

from __future__ import annotations

import json
from pathlib import Path

from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.openapi import render
from billfold.testing import memory_engine

CHECKED_IN = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_checked_in_openapi_document_has_not_drifted() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: python -m billfold.adapters.http.openapi > docs/openapi.json"
    )


def test_the_served_document_is_the_checked_in_one() -> None:
    with asgi_client(create_app(memory_engine())) as client:
        served = client.get("/openapi.json").json()
    assert served == json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    assert "/v1/payments/{payment_id}/refunds" in served["paths"]
