"""`--json` for the listing commands: one JSON document on stdout for scripts to read."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print a JSON list of objects instead of a table.")
]


def echo_json(rows: list[dict[str, Any]]) -> None:
    """Print `rows` as one JSON list; plain stdout, so no terminal styling can corrupt it."""
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
