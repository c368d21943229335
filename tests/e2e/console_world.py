"""A console to test against, in process: two billers (``s1`` and ``s2``), a back-office
user of each role (``<role>``, every biller) and a user of each role for ``s1`` only
(``<role>-s1``), all with the password :data:`PASSWORD`; sessions logged in through the
login form, and the CSRF token read from the pages, as a browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI

from billfold import Biller, BillerKind, Engine
from billfold.adapters.http import users
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.console import SessionRules
from billfold.adapters.http.console.guard import COOKIE
from billfold.adapters.http.ratelimit import RateLimit
from billfold.adapters.http.users import create_user, set_password
from billfold.labels import label
from billfold.merchants.roles import Role

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BILLS = "bill_no,payer_id,payer_name,amount\nT1,2026001,张小明,100.00\nT2,2026002,李小红,50.00\n".encode()


#: argon2id at its lowest cost, for speed: a hash carries its parameters, so logging in
#: checks it at that cost too (the dummy hash for unknown users keeps the library's)
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def seed_world(engine: Engine) -> None:
    """The billers and users every console test starts from."""
    for code, name in (("s1", "第一实验中学"), ("s2", "城东水务")):
        engine.create_biller(Biller(code=code, name=name, kind=BillerKind.SCHOOL))
        engine.import_bills(code, BILLS)
    for role in Role:
        for username, biller in ((role.value, None), (f"{role.value}-s1", "s1")):
            name = label("role", role) + (f"（{biller}）" if biller else "")
            create_user(engine, username, name, [role], biller_code=biller, actor="t", reason="t")
            set_password(engine, username, PASSWORD, actor="t", reason="t")


@dataclass
class Session:
    """A logged-in browser: its cookie and its forms' CSRF token."""

    username: str
    cookie: str
    csrf: str


@dataclass
class World:
    engine: Engine
    app: FastAPI
    client: httpx.Client
    ids: dict[str, Any] = field(default_factory=dict)  # what a case's setup made

    def request(
        self,
        method: str,
        path: str,
        session: Session | None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """``files`` (name → (file name, bytes, type)) posts the form as multipart."""
        self.client.cookies.clear()
        headers = {"Cookie": f"{COOKIE}={session.cookie}"} if session else {}
        return self.client.request(method, path, data=data, files=files, headers=headers)

    def login(self, username: str, password: str = PASSWORD) -> Session:
        self.client.cookies.clear()
        form = self.client.get("/console/login")
        token = CSRF.search(form.text)
        assert token, form.text
        answer = self.client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
        )
        assert answer.status_code == 303, (username, answer.status_code, answer.text[:300])
        cookie = answer.cookies[COOKIE]
        home = self.request("GET", "/console/", Session(username, cookie, ""))
        found = CSRF.search(home.text)
        assert home.status_code == 200 and found, home.text[:300]
        return Session(username, cookie, found.group(1))


def seeded(engine: Engine) -> None:
    """``seed_world``, with the users' passwords hashed cheaply."""
    hasher, users._HASHER = users._HASHER, CHEAP
    try:
        seed_world(engine)
    finally:
        users._HASHER = hasher


@contextmanager
def console_world(engine: Engine, rules: SessionRules | None = None) -> Iterator[World]:
    seeded(engine)
    app = create_app(engine, rate_limit=RateLimit(per_second=1000, burst=1000), console_rules=rules)
    with asgi_client(app) as client:
        yield World(engine, app, client)
