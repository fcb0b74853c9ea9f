"""What `GET /v1/models/current/monitoring` answers (and `dealnode monitor --json` prints)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Level = Literal["stable", "watch", "drift"]


class FeatureDrift(BaseModel):
    """One model input's shift from training."""

    name: str
    psi: float | None = Field(
        description="Population stability index against the training data, over the customers "
        "with a value on both sides; null when the window has none with a value."
    )
    level: Level | None = Field(
        description="stable below 0.1, watch below 0.25, drift from 0.25; null without a PSI."
    )
    missing_training: float = Field(description="Share of training customers without a value.")
    missing_live: float = Field(description="Share of the window's customers without a value.")


class WindowRead(BaseModel):
    """The customers scored in the last `days` days against the training data."""

    days: int
    customers: int = Field(description="Customers read (scored in the window).")
    sampled: bool = Field(description="True when more were scored: the most recent were read.")
    enough: bool = Field(description="Whether there are enough customers to judge drift.")
    features: list[FeatureDrift] = Field(description="Every model input, largest PSI first.")
    state_mix: dict[str, float] = Field(
        description="Share of each predicted state among the customers the active model scored."
    )
    training_state_mix: dict[str, float]
    state_mix_psi: float | None = Field(description="None when the active model scored none.")
    state_mix_level: Level | None


class StateQuality(BaseModel):
    """One state's live figures (None: nothing to divide by)."""

    precision: float | None
    recall: float | None
    support: int = Field(description="Labelled customers truly in this state.")


class ComparedWithTest(BaseModel):
    """The same figures on the model's held-out test split, from its metadata."""

    macro_recall_test: float | None = Field(
        description="Test recall averaged over the states that occur among the live labels."
    )
    macro_recall_live: float | None
    ece_test: float | None
    recall_test: dict[str, float]


class LiveQuality(BaseModel):
    """How the predictions in effect compare with the true states observed in the window."""

    window_days: int
    labelled: int = Field(description="Customers with a true state and a prediction before it.")
    unscored: int = Field(description="Customers with a true state but no prediction before it.")
    minimum: int = Field(description="Labelled customers needed before a conclusion is drawn.")
    enough: bool
    per_state: dict[str, StateQuality]
    macro_recall: float | None
    ece: float | None = Field(description="Expected calibration error of the probabilities.")
    compared_with_test: ComparedWithTest


class Retrain(BaseModel):
    """Whether to retrain, and why (or why not yet)."""

    advised: bool
    because: list[str]


class MonitoringRead(BaseModel):
    """Drift and live quality of the active model: when to stop trusting it."""

    model_version: str
    computed_at: datetime = Field(description="Reports are cached for a few minutes.")
    drift_available: bool = Field(
        description="False for a model trained without a monitoring reference."
    )
    drift_note: str | None
    windows: dict[str, WindowRead] = Field(description="By window length in days: 7 and 30.")
    live_quality: LiveQuality
    retrain: Retrain
