"""Model registry endpoints: list, current, and hot activation."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminKey, FollowerDep, ScoreKey, ServingDep
from app.models_api import service
from app.models_api.schemas import CurrentModelRead, ModelRead

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
def list_models(serving: ServingDep, _: ScoreKey) -> list[ModelRead]:
    """List the registry's models and which one is promoted and serving."""
    return service.list_models(serving)


@router.get("/current")
def current_model(serving: ServingDep, _: ScoreKey) -> CurrentModelRead:
    """Describe the serving model."""
    return service.describe(serving.model)


@router.post("/{version}/activate")
def activate_model(
    version: str, serving: ServingDep, follower: FollowerDep, caller: AdminKey
) -> CurrentModelRead:
    """Serve `version` from every server process from now on, restarts included; requests in
    flight finish on the old model, and a model that cannot load leaves the old one serving."""
    return service.activate(serving, follower, version, by=caller.name)
