"""Every route says which roles may call it: a key holding one of them gets past the check
(its answer is then about the request: 404 for these made-up identifiers, 422 for an empty
body …), a key holding none gets 403 ``forbidden_role`` naming the roles needed. Routes are
taken from the app itself, so a new endpoint fails this test until it is given its roles
here. Each key sees every biller and holds exactly one role."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from billfold import Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import create_key
from billfold.adapters.http.ratelimit import RateLimit
from billfold.merchants.roles import Role

ANY = frozenset(Role)
BURSAR = frozenset({Role.BURSAR})
RECONCILER = frozenset({Role.RECONCILER})
ADMIN = frozenset({Role.ADMIN})
# (method, path) → the roles that may call it; everything else is refused
ALLOWED: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/v1/billers/{code}/bills"): BURSAR,
    ("POST", "/v1/billers/{code}/bills/import"): BURSAR,
    ("POST", "/v1/billers/{code}/bills/{bill_no}/cancel"): BURSAR,
    ("POST", "/v1/billers/{code}/bills/{bill_no}/waive"): BURSAR,
    ("POST", "/v1/billers/{code}/bills/{bill_no}/change"): BURSAR,
    ("POST", "/v1/orders/{order_no}/cancel"): BURSAR,
    ("POST", "/v1/mandates/{mandate_no}/suspend"): BURSAR,
    ("POST", "/v1/mandates/{mandate_no}/resume"): BURSAR,
    ("POST", "/v1/billers/{code}/orders"): BURSAR,
    ("POST", "/v1/orders/{order_no}/pay"): BURSAR,
    ("POST", "/v1/billers/{code}/mandates"): BURSAR,
    ("POST", "/v1/mandates/{mandate_no}/revoke"): BURSAR,
    ("POST", "/v1/payments/{payment_id}/refunds"): RECONCILER,
    ("POST", "/v1/refunds/{refund_no}/confirm-cash"): BURSAR | RECONCILER,
    ("POST", "/v1/payments/{payment_id}/reverse"): RECONCILER,
    ("POST", "/v1/payments/{payment_id}/credit"): RECONCILER,
    ("POST", "/v1/reconciliation/runs"): RECONCILER,
    ("POST", "/v1/reconciliation/discrepancies/{discrepancy_id}/resolve"): RECONCILER,
    ("POST", "/v1/billers/{code}/settlements"): RECONCILER,
    ("POST", "/v1/settlements/{batch_no}/approve"): RECONCILER,
    ("POST", "/v1/settlements/{batch_no}/pay"): RECONCILER,
    ("POST", "/v1/settlements/{batch_no}/confirm"): RECONCILER,
    ("GET", "/v1/settlements/{batch_no}/payout"): RECONCILER,  # account numbers in full
    # who may decide depends on the proposal's kind (test_http_approvals.py)
    ("POST", "/v1/approvals/{approval_id}/approve"): ANY,
    ("POST", "/v1/approvals/{approval_id}/reject"): ANY,
    ("GET", "/v1/keys"): ADMIN,
    ("POST", "/v1/keys"): ADMIN,
    ("POST", "/v1/keys/{key_id}/rotate"): ADMIN,
    ("POST", "/v1/keys/{key_id}/revoke"): ADMIN,
    ("GET", "/v1/billers/{code}/webhooks"): ADMIN,
    ("POST", "/v1/billers/{code}/webhooks"): ADMIN,
    ("POST", "/v1/webhooks/{endpoint_id}/rotate"): ADMIN,
    ("POST", "/v1/webhooks/{endpoint_id}/deactivate"): ADMIN,
    ("POST", "/v1/webhooks/{endpoint_id}/reactivate"): ADMIN,
    ("GET", "/v1/billers/{code}/approval-policies"): ADMIN,
    ("PUT", "/v1/billers/{code}/approval-policies/{kind}"): ADMIN,
    ("POST", "/v1/complaints"): BURSAR | RECONCILER,
    ("POST", "/v1/complaints/{complaint_no}/answer"): BURSAR | RECONCILER,
    ("POST", "/v1/complaints/{complaint_no}/reopen"): BURSAR | RECONCILER,
    ("POST", "/v1/complaints/{complaint_no}/assign"): RECONCILER,
    ("POST", "/v1/complaints/{complaint_no}/resolve"): RECONCILER,
    ("POST", "/v1/complaints/{complaint_no}/reject"): RECONCILER,
    ("PUT", "/v1/billers/{code}/complaint-tats/{kind}"): ADMIN,
    ("POST", "/v1/refunds/{refund_no}/bank-transfer"): RECONCILER,
    ("POST", "/v1/refunds/{refund_no}/bank-transfer/payee"): RECONCILER,
    ("POST", "/v1/refunds/{refund_no}/bank-transfer/approve"): RECONCILER,
    ("POST", "/v1/refunds/{refund_no}/bank-transfer/confirm"): RECONCILER,
    ("POST", "/v1/refund-transfers/files"): RECONCILER,
}
NO_KEY = {"/v1/notify/{channel}"}  # a channel's signature, not a key
MADE_UP = {
    "code": "zz", "bill_no": "NOPE", "order_no": "NOPE", "payment_id": "999999",
    "refund_no": "NOPE", "mandate_no": "NOPE", "run_id": "999999",
    "discrepancy_id": "999999", "batch_no": "NOPE", "approval_id": "999999",
    "key_id": "abcdef", "endpoint_id": "999999", "kind": "refund",
    "complaint_no": "NOPE", "file_no": "NOPE",
}  # fmt: skip


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[FastAPI, httpx.Client, dict[Role, str]]]:
    keys = {role: create_key(engine, None, [role]).secret for role in Role}
    app = create_app(engine, rate_limit=RateLimit(per_second=1000, burst=1000))
    with asgi_client(app) as client:
        yield app, client, keys


def allowed(method: str, template: str) -> frozenset[Role]:
    """The route's roles: the table's, or any role for a read."""
    found = ALLOWED.get((method, template))
    if found is None:
        assert method == "GET", f"{method} {template}: give this route its roles in ALLOWED"
        return ANY
    return found


def test_each_role_reaches_its_routes_and_no_other(
    world: tuple[FastAPI, httpx.Client, dict[Role, str]],
) -> None:
    app, client, keys = world
    tried = 0
    for template, operations in app.openapi()["paths"].items():
        if template in NO_KEY:
            continue
        path = template.format(**{n: MADE_UP[n] for n in re.findall(r"{(\w+)}", template)})
        for method in (m.upper() for m in operations):
            roles = allowed(method, template)
            needed = " or ".join(r.value for r in Role if r in roles)
            for role, key in keys.items():
                headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "k"}
                answer = client.request(method, path, json={}, headers=headers)
                what = (method, path, role.value, answer.text[:200])
                if role in roles:
                    assert answer.status_code != 403, what
                else:
                    assert answer.status_code == 403, what
                    problem = answer.json()
                    assert problem["code"] == "forbidden_role", what
                    assert problem["detail"].startswith(f"this needs the role {needed}; key ")
                    assert problem["detail"].endswith(f" has {role.value}"), what
                tried += 1
    assert tried >= 5 * 54  # every keyed route of the app, each role


def test_a_read_only_key_is_refused_every_write_with_the_roles_it_lacks(
    world: tuple[FastAPI, httpx.Client, dict[Role, str]],
) -> None:
    _, client, keys = world
    headers = {"Authorization": f"Bearer {keys[Role.VIEWER]}", "Idempotency-Key": "k"}
    answer = client.post("/v1/payments/1/reverse", json={"reason": "x"}, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith("this needs the role reconciler; key ")
