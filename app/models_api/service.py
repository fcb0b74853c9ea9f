"""The model registry seen from the API: what is registered, what is served, activation."""

from __future__ import annotations

from app.errors import InvalidInput, NotFound
from app.models_api.follower import ModelFollower
from app.models_api.schemas import CurrentModelRead, ModelRead
from app.scoring.serving import ServingModel
from training import registry
from training.artifacts import LoadedModel
from training.errors import ModelError


def list_models(serving: ServingModel) -> list[ModelRead]:
    """The registry's models, each marked promoted and serving as it is."""
    served = serving.model.version if serving.loaded else None
    return [
        ModelRead(**registry.summary(e), serving=e.version == served)
        for e in registry.list_models(serving.models_dir)
    ]


def describe(model: LoadedModel) -> CurrentModelRead:
    """A model and what it was trained and tested on."""
    meta = model.metadata
    segment_by, used = registry.segments_of(meta)
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
        segment_by=segment_by,
        segments_used=list(used),
    )


def activate(
    serving: ServingModel, follower: ModelFollower, version: str, *, by: str
) -> CurrentModelRead:
    """Serve `version` everywhere; NotFound if the registry lacks it, InvalidInput (the old
    model keeps serving) if it cannot load."""
    if version not in {e.version for e in registry.list_models(serving.models_dir)}:
        raise NotFound(f"no model {version!r} in the registry", field="version")
    try:
        follower.activate(version, by=by)
    except ModelError as exc:
        raise InvalidInput(str(exc), field="version") from None
    return describe(serving.model)
