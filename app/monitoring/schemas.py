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


class StateCalibration(BaseModel):
    """One state against the rest, over the labelled customers: do its percentages match how
    often customers truly are in it? Null figures: too few customers to judge."""

    support: int = Field(description="Labelled customers truly in this state.")
    expected: float = Field(
        description="Customers the model's percentages for this state add up to; the figures "
        "are given once this or `support` reaches `calibration_minimum`."
    )
    mean_predicted: float | None = Field(
        description="Mean probability given to this state over the labelled customers."
    )
    observed_share: float | None = Field(
        description="Share of the labelled customers truly in this state."
    )
    calibration_error: float | None = Field(
        description="One-vs-rest expected calibration error: the state's probability cut into "
        "15 equal-width bins (the training report's binning), the gap between each bin's mean "
        "probability and its share truly in the state, averaged by bin size."
    )
    chance_error: float | None = Field(
        description="The calibration error exact percentages would show on these customers, "
        "on average, by chance alone: large on few customers."
    )
    drifted: bool = Field(
        description="With `minimum` labelled customers: the calibration error beyond chance "
        "exceeds the test split's (beyond its chance) by more than `calibration_gap` and by "
        "more than `chance_error`; for a model without test figures, the test's counts as 0."
    )


class StateCalibrationOnTest(BaseModel):
    """One state's calibration on the model's test customers, measured at training."""

    mean_predicted: float
    observed_share: float
    calibration_error: float
    chance_error: float
    support: int


class ComparedWithTest(BaseModel):
    """The same figures on the model's held-out test split, from its metadata."""

    macro_recall_test: float | None = Field(
        description="Test recall averaged over the states that occur among the live labels."
    )
    macro_recall_live: float | None
    ece_test: float | None
    recall_test: dict[str, float]
    calibration_test: dict[str, StateCalibrationOnTest] = Field(
        description="Per state; empty for a model trained before training stored it."
    )


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
    calibration: dict[str, StateCalibration] = Field(
        description="Per state: its mean probability against the share truly in it."
    )
    calibration_minimum: int = Field(
        description="Customers truly in a state, or expected in it, before its calibration "
        "is measured."
    )
    calibration_gap: float = Field(
        description="How far a state's calibration error beyond chance must exceed the test "
        "split's before it is called drift."
    )
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
