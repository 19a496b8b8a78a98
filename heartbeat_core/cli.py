"""The root of `heartbeat`, the project's one command line (Typer + Rich), and its plugin loading.

Every part adds its commands through the entry-point group `heartbeat.commands` (pyproject.toml): a Typer app
becomes a command group, a function a command. A part whose extra is not installed (the server on a bridge-only
PC, the toolchain without TensorFlow) becomes a command that says so. The root knows none of the parts.

Every failure prints one line (what, where, what to do) and exits non-zero; HEARTBEAT_DEBUG=1 shows the
traceback of an unexpected one.
"""
from __future__ import annotations

import sys
import warnings
from importlib.metadata import entry_points
from typing import Annotated

import typer

from heartbeat_core import ui
from heartbeat_core.errors import HeartbeatError
from heartbeat_core.settings import get_settings

PLUGIN_GROUP = "heartbeat.commands"


def make_app() -> typer.Typer:
    """The root command with every installed part's commands added."""
    app = typer.Typer(name="heartbeat", help="Heartbeat Edge: on-device ECG beat classification and its MLOps loop.",
                      no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            sub = ep.load()
        except ImportError as exc:
            _missing_plugin(app, ep.name, exc)
            continue
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=ep.name)
        else:
            app.command(name=ep.name)(sub)
    return app


def _missing_plugin(app: typer.Typer, name: str, exc: ImportError) -> None:
    def unavailable(args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None) -> None:
        raise HeartbeatError(f"`heartbeat {name}` is not available here: {exc}",
                             hint="install the extra it needs (pip install -e '.[...]')")

    app.command(name=name, help=f"(not available: {exc})",
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(unavailable)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=UserWarning)  # TF/TFLite deprecation chatter, not for users
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ui.enable(True)
    console = ui.console
    try:
        command = typer.main.get_command(make_app())
        command.main(args=argv, prog_name="heartbeat", standalone_mode=False)
        return 0
    except HeartbeatError as exc:
        console.print(f"[red]error:[/red] {exc.one_line()}", highlight=False, soft_wrap=True)
        return 1
    except typer.Abort:
        console.print("[red]aborted[/red]")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    except Exception as exc:  # the one-line promise holds for bugs too
        if get_settings().debug:
            raise
        console.print(f"[red]error:[/red] unexpected {type(exc).__name__}: {exc} "
                      "(run again with HEARTBEAT_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
