"""The API docs pages, served from this machine: Swagger UI at /docs, ReDoc at /redoc.

The assets (Swagger UI 5 and ReDoc bundles) come from the installed, pinned PyPI package `fastapi-offline`
(pyproject.toml, server extra), mounted at /docs/assets: the pages work on a network without internet access
(many hospital networks) and load nothing from a CDN. The pages carry no inline script (Swagger UI is started
by /docs/swagger-init.js), so their Content-Security-Policy allows scripts from this server only; the OAuth2
redirect page's one inline script is allowed by its sha256.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
PAGE_CSP = ("default-src 'self'; script-src 'self'{extra}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def assets_dir() -> Path:
    """The installed package's static folder (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js)."""
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def _page(title: str, body: str, csp_extra: str = "") -> HTMLResponse:
    html = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" type="image/png" href="{ASSETS_URL}/favicon.png">{body}</html>\n')
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP.format(extra=csp_extra),
                                       "Cache-Control": "no-cache"})


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Add /docs, /docs/swagger-init.js, /docs/oauth2-redirect, /redoc and the assets to `app` (created with
    docs_url=None and redoc_url=None)."""
    title = f"{app.title} - API"
    init_js = f"""window.ui = SwaggerUIBundle({{
  url: {json.dumps(openapi_url)}, dom_id: "#swagger-ui", layout: "BaseLayout", deepLinking: true,
  showExtensions: true, showCommonExtensions: true, persistAuthorization: true,
  oauth2RedirectUrl: window.location.origin + {json.dumps(OAUTH2_REDIRECT_URL)},
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
}});
"""
    redirect_html = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()
    inline = re.findall(r"<script>(.*?)</script>", redirect_html, flags=re.S)
    redirect_hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline)

    async def swagger(_request: Request) -> Response:
        return _page(title, f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css"></head><body>'
                            f'<div id="swagger-ui"></div><script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>'
                            '<script src="/docs/swagger-init.js"></script></body>')

    async def swagger_init(_request: Request) -> Response:
        return Response(init_js, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    async def oauth2_redirect(_request: Request) -> Response:
        response = HTMLResponse(redirect_html)
        response.headers["Content-Security-Policy"] = PAGE_CSP.format(extra=redirect_hashes)
        return response

    async def redoc(_request: Request) -> Response:
        return _page(f"{app.title} - ReDoc", f'</head><body><redoc spec-url="{openapi_url}"></redoc>'
                                             f'<script src="{ASSETS_URL}/redoc.standalone.js"></script></body>')

    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/docs/swagger-init.js", swagger_init, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
