"""Swagger UI (`/docs`) and ReDoc (`/redoc`), served entirely by the app.

The JavaScript and CSS come from the `fastapi-offline` distribution's package
data, never from a CDN, so an installation without internet access still shows
working docs. The pages are our own HTML with no inline script, which lets
their Content-Security-Policy allow scripts from this origin only.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vaultapi.errors import NotFound

router = APIRouter(include_in_schema=False)

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


def _asset_sources() -> dict[str, Traversable]:
    vendored = files("fastapi_offline").joinpath("static")
    ours = files("vaultapi.api").joinpath("docs_static")
    names = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
    assets = {name: vendored.joinpath(name) for name in names}
    assets["swagger-init.js"] = ours.joinpath("swagger-init.js")
    return assets


_ASSETS = _asset_sources()


def _prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(title: str, body: str, head: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
{head}
</head>
<body>
{body}
</body>
</html>
"""


def _html(content: str) -> HTMLResponse:
    return HTMLResponse(content, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    base = _prefix(request)
    assets = f"{base}/docs/assets"
    head = (
        f'<link rel="icon" href="{assets}/favicon.png">\n'
        f'<link rel="stylesheet" href="{assets}/swagger-ui.css">'
    )
    body = (
        f'<div id="swagger-ui" data-openapi-url="{escape(base)}/openapi.json"></div>\n'
        f'<script src="{assets}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{assets}/swagger-init.js"></script>'
    )
    return _html(_page("vaultapi — Swagger UI", body, head))


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    base = _prefix(request)
    assets = f"{base}/docs/assets"
    head = f'<link rel="icon" href="{assets}/favicon.png">'
    body = (
        f'<redoc spec-url="{escape(base)}/openapi.json"></redoc>\n'
        f'<script src="{assets}/redoc.standalone.js"></script>'
    )
    return _html(_page("vaultapi — ReDoc", body, head))


# ReDoc 2 always shows a "powered by" logo fetched from its CDN. Offline that
# is a failed request (and our CSP blocks it anyway): serve the bundle with the
# logo pointed at an empty inline image. The browser test fails on any request
# that leaves the server, so a new external URL in a later ReDoc shows up there.
_REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_SVG = b"data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E"


@cache
def _asset_bytes(name: str) -> bytes:
    """Read once per process: the files are immutable package data."""
    content = _ASSETS[name].read_bytes()
    if name == "redoc.standalone.js":
        content = content.replace(_REDOC_CDN_LOGO, _EMPTY_SVG)
    return content


@router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise NotFound(f"No documentation asset named {name!r}")
    media_type = _ASSET_TYPES[name[name.rfind(".") :]]
    return Response(
        _asset_bytes(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
