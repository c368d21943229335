"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) that work without the internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google),
so on a closed network they are blank. Here the pages are FastAPI's, pointed at copies of
the assets that the PyPI package ``fastapi-offline`` ships (part of the ``server`` extra) and
billfold serves under ``/docs/assets/``; Swagger UI's online validator badge is switched off.
None of these is in the OpenAPI document.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from billfold.extras import requires_extra

__all__ = ["ASSETS_PATH", "router"]

ASSETS_PATH = "/docs/assets"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_PACKAGE = "fastapi_offline"

router = APIRouter(include_in_schema=False)


def _title(request: Request) -> str:
    return f"{request.app.title} — API"


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=_title(request),
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=_title(request),
        redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )


def _asset(name: str) -> bytes:
    with requires_extra("server"):
        import fastapi_offline  # noqa: F401 - the assets' package must be installed
    return (resources.files(_PACKAGE) / "static" / name).read_bytes()


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _asset(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
