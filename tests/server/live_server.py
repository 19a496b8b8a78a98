"""The server running in this process on a loopback port (uvicorn in a thread), and the users and devices the tests
act as. A module of its own (not conftest) so that tests import it by a name no other test folder uses."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Actor:
    """A user (or device) with credentials for the live server."""

    role: str
    token: str
    id: int
    email: str | None = None
    password: str | None = None
    device_uid: str | None = None
    token_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class LiveServer:
    base_url: str
    app: object
    settings: object
    _server: object = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    clients: list = field(default_factory=list, repr=False)

    def client(self, token: str | None = None, **kwargs):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        c = httpx.Client(base_url=self.base_url, headers=headers, timeout=kwargs.pop("timeout", 60.0), **kwargs)
        self.clients.append(c)
        return c

    @property
    def log_path(self) -> Path:
        return Path(self.settings.log_dir) / "app.log"

    def login(self, email: str, password: str) -> str:
        r = self.client().post("/api/v1/auth/token", data={"username": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def make_user(self, role: str, active: bool = True) -> Actor:
        """A user of the role, made directly in the database (as `create-admin` does), logged in over HTTP."""
        from server.core.db import make_engine, make_sessionmaker
        from server.schemas.user import UserCreate, UserUpdate
        from server.services.users import create_user, update_user

        email = f"{role}-{uuid.uuid4().hex[:10]}@test.example"
        password = secrets.token_urlsafe(18)
        engine = make_engine(self.settings.db_url)
        try:
            with make_sessionmaker(engine)() as session:
                user = create_user(session, UserCreate(email=email, full_name=f"Test {role}", role=role,
                                                       password=password))
                token = self.login(email, password)
                if not active:
                    update_user(session, user, UserUpdate(is_active=False))
        finally:
            engine.dispose()
        return Actor(role=role, token=token, id=user.id, email=email, password=password)

    def make_device(self, device_uid: str | None = None) -> Actor:
        """A registered device and a live token for it."""
        from server.core.db import make_engine, make_sessionmaker
        from server.schemas.device import DeviceCreate
        from server.services.devices import issue_token, register_device

        device_uid = device_uid or f"hb-test-{uuid.uuid4().hex[:8]}"
        engine = make_engine(self.settings.db_url)
        try:
            with make_sessionmaker(engine)() as session:
                device = register_device(session, DeviceCreate(device_uid=device_uid, name="test device"))
                row, token = issue_token(session, device)
        finally:
            engine.dispose()
        return Actor(role="device", token=token, id=device.id, device_uid=device_uid, token_id=row.id)


def start_live_server(settings) -> LiveServer:
    import uvicorn

    from server.main import UVICORN_OPTIONS, create_app

    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5,
                            **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="live-server")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", app, settings, server, thread)


def stop_live_server(live: LiveServer) -> None:
    for c in live.clients:
        c.close()
    live._server.should_exit = True
    live._thread.join(timeout=30)
