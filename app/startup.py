"""Settings as a long-running command starts with them: a bad value stops it with one line.

`serve` and `deliver` run under supervisors that restart them; a traceback in their log hides
which setting is wrong, and pydantic's own message would print the value, which may be a
secret. So the line names the environment variable and what is wrong, never the value.
"""

from __future__ import annotations

import re

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.config import Settings, get_settings
from app.webhooks.signature import check_outbound_secret, check_secrets


def checked_settings(*, sends: bool) -> Settings:
    """The process's settings with its secrets checked; exit 2 with one line if one is bad.

    The outbound secret is required when the command `sends` to subscribers, and checked
    whenever it is set: the same environment usually starts both the server and the worker.
    """
    try:
        settings = get_settings()
        check_secrets(settings.webhook_secrets)
        if settings.outbound_secret is not None or (sends and settings.subscribers):
            check_outbound_secret(settings.outbound_secret)
    except ValidationError as exc:
        raise _exit(_first_problem(exc)) from None
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        name = env_name(found[1]) if found else "a DEALNODE_ setting"
        raise _exit(f"{name}: cannot be parsed (JSON expected)") from None
    except ValueError as exc:  # the checks' own messages name the setting, not the value
        raise _exit(str(exc)) from None
    return settings


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"DEALNODE_{field.upper()}" if field in Settings.model_fields else field


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_input=False, include_url=False)[0]
    field, *inside = (str(part) for part in error["loc"])
    where = "".join(f"[{part}]" for part in inside)
    return f"{env_name(field)}{where}: {error['msg']}"


def _exit(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)
