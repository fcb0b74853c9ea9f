"""Bodies of the model registry API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_SEGMENT_BY = Field(
    None,
    description="The column of a family of segment models (`dealnode train --segment-by`); "
    "null: one global model scores every customer.",
)
_SEGMENTS_USED: list[str] = Field(
    default_factory=list,
    description="The values of `segment_by` scored by a model of their own; every other "
    "customer is scored by the global model (docs/segment-models.md).",
)


class ModelRead(BaseModel):
    """A registered model."""

    version: str
    created_at: str
    macro_f1: float | None
    promoted: bool
    serving: bool
    problem: str | None
    segment_by: str | None = _SEGMENT_BY
    segments_used: list[str] = _SEGMENTS_USED


class CurrentModelRead(BaseModel):
    """The serving model and what it was trained and tested on."""

    version: str
    created_at: str | None
    feature_set: dict[str, Any]
    labels: list[str]
    metrics: dict[str, Any]
    extra_inputs: dict[str, list[str]]
    segment_by: str | None = _SEGMENT_BY
    segments_used: list[str] = _SEGMENTS_USED
