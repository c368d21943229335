"""/docs and /redoc work on a closed network: their pages name no other host, and the assets
they load (from the fastapi-offline package) are served by billfold itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

import pytest

from billfold import Engine
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.links.append(value)


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", ["/docs/assets/swagger-ui.css", "/docs/assets/favicon.png",
                   "/docs/assets/swagger-ui-bundle.js"]),
        ("/redoc", ["/docs/assets/favicon.png", "/openapi.json",
                    "/docs/assets/redoc.standalone.js"]),
    ],
)  # fmt: skip
def test_the_api_docs_name_no_other_host_and_their_assets_are_served_here(
    engine: Engine, path: str, assets: list[str]
) -> None:
    with asgi_client(create_app(engine)) as client:
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        links = _Links()
        links.feed(page.text)
        assert links.links == assets
        # nothing on the page (links, inline script, styles) reaches for another host
        assert re.findall(r"(?:https?:)?//[\w.-]+", page.text) == []
        assert "fonts.googleapis" not in page.text and "cdn" not in page.text.lower()
        for link in links.links:
            served = client.get(link)
            assert served.status_code == 200, link
            assert len(served.content) > 1000 or link == "/openapi.json"
        if path == "/docs":
            assert '"validatorUrl": null' in page.text  # no badge from the online validator
            assert "url: '/openapi.json'" in page.text


def test_the_assets_are_the_packaged_files_with_their_types_and_nothing_else_is_served(
    engine: Engine,
) -> None:
    static = resources.files("fastapi_offline") / "static"
    with asgi_client(create_app(engine)) as client:
        for name, kind in (("swagger-ui-bundle.js", "text/javascript"),
                           ("swagger-ui.css", "text/css"),
                           ("redoc.standalone.js", "text/javascript"),
                           ("favicon.png", "image/png")):  # fmt: skip
            served = client.get(f"/docs/assets/{name}")
            assert served.status_code == 200
            assert served.headers["content-type"].startswith(kind)
            assert served.content == (static / name).read_bytes()
        for bad in ("__init__.py", "..%2F__init__.py", "core.py", "nope.js"):
            refused = client.get(f"/docs/assets/{bad}")
            assert refused.status_code == 404, bad
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
