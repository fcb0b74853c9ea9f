"""Model registry endpoints: list, current, and hot activation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import AdminKey, FollowerDep, ScoreKey, ServingDep
from app.errors import InvalidInput, NotFound
from training import registry
from training.errors import ModelError

router = APIRouter(prefix="/v1/models", tags=["models"])


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


@router.get("")
def list_models(serving_model: ServingDep, _: ScoreKey) -> list[ModelRead]:
    """List the registry's models and which one is promoted and serving."""
    serving = serving_model.model.version if serving_model.loaded else None
    return [
        ModelRead(**registry.summary(e), serving=e.version == serving)
        for e in registry.list_models(serving_model.models_dir)
    ]


@router.get("/current")
def current_model(serving: ServingDep, _: ScoreKey) -> CurrentModelRead:
    """Describe the serving model."""
    model = serving.model
    meta = model.metadata
    return CurrentModelRead(
        version=model.version,
        created_at=meta.get("created_at"),
        feature_set=meta["feature_set"],
        labels=meta["labels"],
        metrics=meta.get("metrics", {}).get("test", {}),
        extra_inputs={
            "numeric": list(model.layout.extra_numeric),
            "categorical": list(model.layout.extra_categorical),
        },
    )


@router.post("/{version}/activate")
def activate_model(
    version: str, serving: ServingDep, follower: FollowerDep, caller: AdminKey
) -> CurrentModelRead:
    """Serve `version` from every server process from now on, restarts included; requests in
    flight finish on the old model, and a model that cannot load leaves the old one serving."""
    if version not in {e.version for e in registry.list_models(serving.models_dir)}:
        raise NotFound(f"no model {version!r} in the registry", field="version")
    try:
        follower.activate(version, by=caller.name)
    except ModelError as exc:
        raise InvalidInput(str(exc), field="version") from None
    return current_model(serving, caller)
