"""The app factory: `create_app(settings)` builds the API with its engine, logging and error handlers."""
from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.docs import install_docs
from server.api.permissions import POLICIES, route_policies
from server.api.router import api_router
from server.core.db import make_engine, make_sessionmaker
from server.core.errors import DomainError, body_parse_problem, unavailable_reason
from server.core.files import prepare_state
from server.core.logging import add_file_handler, get_logger, new_request_id, remove_handler, request_id_var
from server.core.security import configure_password_hashing
from server.core.settings import Settings, get_settings
from server.core.text import escape
from server.schemas.common import ValidationErrorBody
from server.services.login_throttle import LoginThrottle

log = get_logger()
access_log = get_logger("access")

try:
    APP_VERSION = version("heartbeat-edge")
except PackageNotFoundError:  # running from a checkout that was never installed
    APP_VERSION = "0.0.0"

DESCRIPTION = """Heartbeat Edge server: devices upload beats and alerts, clinicians review alerts, engineers
manage models and retraining. Log in with **Authorize** (email and password); devices use their `hbd_...` token.
Every error is `{"detail": ...}` saying what was wrong."""


class RequestIdMiddleware:
    """X-Request-ID in (when sane) and out; the id is in every log line of the request; one access line each."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = new_request_id(incoming)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        responded = False

        def log_access(status_code: int) -> None:
            access_log.info("%s %s %s %.1fms", scope.get("method"), scope.get("path"), status_code,
                            1000 * (time.perf_counter() - started))

        async def send_with_id(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                log_access(message["status"])  # before the client can see the answer
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not responded:  # an exception before any answer: the error middleware answers 500
                log_access(500)
            request_id_var.reset(token)


def _field_path(loc: Sequence[object]) -> str:
    parts = [escape(str(p)) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] in ("body", "query", "path", "header", "cookie") else parts)


def validation_report(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A readable 422 body: one message naming every problem (without echoing the values sent, which may be
    passwords), and the problems one by one."""
    issues: list[dict[str, Any]] = []
    for err in errors:
        # names sent by the client (JSON keys) may hold anything, a lone surrogate too: escaped (escape())
        loc = [escape(p) if isinstance(p, str) else p for p in err.get("loc", ())]
        message = escape(str(err.get("msg", "invalid")))
        if err.get("type") == "value_error" and message.startswith("Value error, "):
            message = message[len("Value error, "):]  # our validators' messages are sentences of their own
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            message = f"malformed JSON{where}: {ctx.get('error', 'cannot be parsed')}"
            loc = loc[:1]
        issues.append({"loc": loc, "field": _field_path(loc), "message": message, "type": err.get("type", "")})
    summary = "; ".join(f"{'.'.join(str(p) for p in i['loc']) or 'request'}: {i['message']}" for i in issues[:5])
    if len(issues) > 5:
        summary += f" (and {len(issues) - 5} more)"
    return {"message": f"request is invalid: {summary}", "errors": issues}


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        report = validation_report(list(exc.errors()))
        log.info("422 %s %s: %s", request.method, request.url.path, report["message"][:500])
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": report}))

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        text = exc.detail if isinstance(exc.detail, str) else exc.detail.get("message", "")
        log.info("%s %s %s: %s", exc.status_code, request.method, request.url.path, str(text)[:500])
        detail = exc.detail
        if exc.status_code == 422 and isinstance(detail, str):  # every 422 has the documented object shape
            detail = {"message": f"request is invalid: {detail}", "errors": []}
        return JSONResponse(status_code=exc.status_code, content=jsonable_encoder({"detail": detail}))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        problem = body_parse_problem(exc)
        if problem is None:
            return await http_exception_handler(request, exc)
        report = validation_report([{"loc": ("body",), "msg": problem, "type": "json_invalid_body"}])
        log.info("422 %s %s: %s", request.method, request.url.path, report["message"])
        return JSONResponse(status_code=422, content={"detail": report})

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _data(request: Request, exc: sqlalchemy.exc.DataError) -> JSONResponse:
        # the database refused a value the schema let through (e.g. a NUL character in a text, a number out of
        # its column's range): the client's input, so a 422 naming the reason; nothing was stored
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
        log.info("422 %s %s: database refused a value: %s", request.method, request.url.path, reason[:300])
        return JSONResponse(status_code=422, content={"detail": {
            "message": f"request is invalid: the database cannot store a value sent ({reason})", "errors": []}})

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _busy(request: Request, exc: sqlalchemy.exc.TimeoutError) -> JSONResponse:
        # every pooled database connection stayed busy for the pool's timeout: overload, not a fault; the
        # client (a bridge) retries with backoff
        log.warning("503 %s %s: no database connection free (%s)", request.method, request.url.path, exc)
        return JSONResponse(status_code=503, headers={"Retry-After": "2"}, content={
            "detail": "the server is busy (no database connection free); retry in a few seconds"})

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _operational(request: Request, exc: sqlalchemy.exc.OperationalError) -> JSONResponse:
        return _unavailable_or_fault(request, exc)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        return _unavailable_or_fault(request, exc)

    def _unavailable_or_fault(request: Request, exc: Exception) -> JSONResponse:
        reason = unavailable_reason(exc)
        if reason is None:
            return _fault(request, exc)
        what, seconds = reason
        # the request's transaction failed and was rolled back: nothing of it is stored; a bridge retries the
        # same batch with the same key
        log.warning("503 %s %s: %s", request.method, request.url.path, what)
        return JSONResponse(status_code=503, headers={"Retry-After": str(seconds)}, content={
            "detail": f"the server cannot store data now: {what}; nothing was stored; retry in {seconds} s"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _fault(request, exc)

    def _fault(request: Request, exc: Exception) -> JSONResponse:
        # this runs outside the request-id middleware (Starlette's error middleware is the outermost): take the
        # id from the request's state, where the middleware left it
        request_id = getattr(request.state, "request_id", None) or new_request_id()
        token = request_id_var.set(request_id)
        try:
            log.error("unhandled %s in %s %s: %s", exc.__class__.__name__, request.method, request.url.path, exc,
                      exc_info=exc)
        finally:
            request_id_var.reset(token)
        return JSONResponse(status_code=500, content={
            "detail": f"internal error ({exc.__class__.__name__}); it is logged under request id {request_id}"},
            headers={"X-Request-ID": request_id})


class HeartbeatAPI(FastAPI):
    """The FastAPI app with the server's OpenAPI document: our 422 body, and who may call each operation."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema:
            return self.openapi_schema
        schema = get_openapi(title=self.title, version=self.version, description=self.description,
                             routes=self.routes, tags=self.openapi_tags)
        # Our 422 body (see validation_report) replaces FastAPI's default one in the documented schema.
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        body = ValidationErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in body.pop("$defs", {}).items():
            components[name] = sub
        components["HTTPValidationError"] = body
        components.pop("ValidationError", None)
        # who may call each operation, from the same rules the dependencies enforce
        policies = route_policies(self)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                policy = policies.get((method.upper(), path))
                allowed = sorted(POLICIES[policy]) if policy else ["anyone"]
                operation["x-roles"] = allowed
                note = f"**Who:** {', '.join(allowed)}."
                operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{note}".lstrip()
        self.openapi_schema = schema
        return schema


# uvicorn as the server runs it (`heartbeat server run`, and the tests' live server): no `server: uvicorn` header;
# X-Forwarded-For is not believed (a client on this machine could otherwise name any address, e.g. to get round
# the login throttle): put a reverse proxy's address handling in front deliberately if one is used
UVICORN_OPTIONS: dict[str, Any] = {"server_header": False, "proxy_headers": False}

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
)


class SecurityHeadersMiddleware:
    """Hardening headers on every answer (a page may set its own Content-Security-Policy, as /docs does), and
    `Cache-Control: no-store` + `Pragma: no-cache` on the API's answers (patients' data, tokens: RFC 6749 5.1)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                if api and b"cache-control" not in present:
                    extra += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AllowHeaderMiddleware:
    """Methods as the schema documents them: the most specific documented path template (most literal segments)
    matching an /api/ path decides which methods it answers; any other method is 405 before routing, and every
    405 names exactly those methods in `Allow`. (Starlette named only the methods of the first route whose path
    matched - GET /users and POST /users are two routes, so OPTIONS /users said `Allow: GET` - and PATCH
    /users/me reached PATCH /users/{user_id} and got a 422.)"""

    ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

    def __init__(self, app: ASGIApp, api: FastAPI):
        self.app = app
        self.api = api
        self._templates: list[tuple[re.Pattern[str], int, frozenset[str]]] | None = None

    def templates(self) -> list[tuple[re.Pattern[str], int, frozenset[str]]]:
        if self._templates is None:
            out = []
            for path, item in self.api.openapi().get("paths", {}).items():
                parts = path.strip("/").split("/")
                regex = "/" + "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
                literal = sum(not p.startswith("{") for p in parts)
                out.append((re.compile(f"^{regex}/?$"), literal, frozenset(m.upper() for m in item)))
            self._templates = out
        return self._templates

    def allowed(self, path: str) -> list[str]:
        found = [(literal, methods) for regex, literal, methods in self.templates() if regex.match(path)]
        if not found:
            return []
        best = max(literal for literal, _ in found)
        methods = set().union(*(m for literal, m in found if literal == best))
        return [m for m in self.ORDER if m in methods]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = str(scope.get("path", ""))
        if path.startswith("/api/"):
            documented = self.allowed(path)
            if documented and scope.get("method") not in documented:
                response = JSONResponse(status_code=405, content={"detail": "Method Not Allowed"},
                                        headers={"Allow": ", ".join(documented)})
                await response(scope, receive, send)
                return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self.allowed(path)
                if methods:
                    headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)


class BodyLimitMiddleware:
    """Refuses a request body larger than `limit` bytes with 413 before it is read into memory: by its
    Content-Length when it gives one, by counting the bytes as they arrive when it does not (chunked)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = JSONResponse(status_code=413, content={
            "detail": f"the request body is {size}; the limit is {self.limit} bytes (HEARTBEAT_MAX_REQUEST_BYTES)"})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._too_large(scope, receive, send, f"{declared} bytes")
                    return
                break
        received = 0
        started = refused = False

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already; what the app answers to the cut-off body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit and not started:
                    refused = True
                    await self._too_large(scope, receive, send, f"over {self.limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted_receive, send_unless_refused)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    prepare_state(settings)  # folders 0700, databases and logs 0600, whatever the umask
    configure_password_hashing(settings.password_hash_time_cost, settings.password_hash_memory_kib,
                               settings.password_hash_parallelism)
    engine = make_engine(settings.db_url, settings.db_busy_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handler = add_file_handler(settings.log_folder, settings.log_max_bytes, settings.log_backup_count)
        log.info("server starting: database %s, state %s", engine.url.render_as_string(hide_password=True),
                 settings.state_dir)
        try:
            yield
        finally:
            log.info("server stopping")
            checker = getattr(app.state, "password_checker", None)
            if checker is not None:
                checker.shutdown(wait=False, cancel_futures=True)
            remove_handler(handler)
            engine.dispose()

    app = HeartbeatAPI(title="Heartbeat Edge", version=APP_VERSION, description=DESCRIPTION, lifespan=lifespan,
                       docs_url=None, redoc_url=None)  # served from local assets (server/api/docs.py)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.login_throttle = LoginThrottle()
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(AllowHeaderMiddleware, api=app)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: a refused body is logged with its request id too
    _install_handlers(app)
    app.include_router(api_router)
    install_docs(app)
    return app
