"""`heartbeat server ...`: run the API, make the first administrator, migrate the database, run the worker.

Registered in pyproject.toml under the entry-point group `heartbeat.commands`; the `heartbeat` command
(heartbeat_core.cli) loads it.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from heartbeat_core.errors import HeartbeatError

if TYPE_CHECKING:
    from server.core.settings import Settings

app = typer.Typer(name="server", help="The Heartbeat Edge server: API, migrations, administrators, worker.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _settings() -> Settings:
    from server.core.files import prepare_state
    from server.core.security import configure_password_hashing
    from server.core.settings import get_settings

    settings = get_settings()
    # what the server and its worker write is private (password and token hashes, patients' ECG): files the
    # code does not make 0600 itself (MLflow's, a training run's) are made so by the umask
    os.umask(0o077)
    prepare_state(settings)
    configure_password_hashing(settings.password_hash_time_cost, settings.password_hash_memory_kib,
                               settings.password_hash_parallelism)
    return settings


def _migrate(settings: Settings) -> str | None:
    from sqlalchemy.exc import OperationalError

    from server.core.db import current_revision, upgrade

    try:
        upgrade(settings.db_url)
        return current_revision(settings.db_url)
    except OperationalError as exc:
        raise HeartbeatError(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}",
                             _safe_url(settings.db_url), "check HEARTBEAT_DATABASE_URL") from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    from server.core.db import normalize_url

    return make_url(normalize_url(url)).render_as_string(hide_password=True)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    settings = _settings()
    revision = _migrate(settings)
    typer.echo(f"database {_safe_url(settings.db_url)} at revision {revision}")


@app.command()
def run(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000) -> None:
    """Migrate the database, then serve the API with uvicorn (docs at /docs)."""
    import uvicorn

    from server.main import UVICORN_OPTIONS, create_app

    settings = _settings()
    _migrate(settings)
    typer.echo(f"serving on http://{host}:{port} (docs: /docs); logs in {settings.log_folder / 'app.log'}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **UVICORN_OPTIONS)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The administrator's email (login name).")],
    full_name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input (first line).")]
    = False,
) -> None:
    """Make an administrator account. There is no default account or password: this is how the first one is made."""
    from pydantic import ValidationError

    from heartbeat_core.settings import describe_validation_error
    from server.core.db import make_engine, make_sessionmaker
    from server.core.errors import ConflictError
    from server.core.passwords import PASSWORD_MIN
    from server.models.identity import Role
    from server.schemas.user import UserCreate
    from server.services.users import create_user

    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < PASSWORD_MIN:
        raise HeartbeatError(f"the password is too short ({len(password)} characters)", None,
                             f"use at least {PASSWORD_MIN} characters")
    try:
        data = UserCreate(email=email.strip(), full_name=full_name, role=Role.admin, password=password)
    except ValidationError as exc:
        raise HeartbeatError(f"invalid administrator: {describe_validation_error(exc)}") from None
    _migrate(settings)
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            user = create_user(session, data)
    except ConflictError as exc:
        raise HeartbeatError(str(exc), None, "log in with it, or pick another email") from None
    finally:
        engine.dispose()
    typer.echo(f"administrator {user.email} created (id {user.id})")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run the queued jobs, then stop (instead of polling for ever).")]
    = False,
) -> None:
    """Run background jobs (retraining) from the jobs table."""
    try:
        from server.worker.runner import run_worker
    except ImportError as exc:
        raise HeartbeatError(f"the worker is not available: {exc}") from None
    settings = _settings()
    _migrate(settings)
    ran = run_worker(settings, once=once)
    typer.echo(f"worker stopped after {ran} job(s)")
