"""Bodies of the model registry API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ModelRead(BaseModel):
    """A registered model."""

    version: str
    created_at: str
    macro_f1: float | None
    promoted: bool
    serving: bool
    problem: str | None


class CurrentModelRead(BaseModel):
    """The serving model and what it was trained and tested on."""

    version: str
    created_at: str | None
    feature_set: dict[str, Any]
    labels: list[str]
    metrics: dict[str, Any]
    extra_inputs: dict[str, list[str]]
