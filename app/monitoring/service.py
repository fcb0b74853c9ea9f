"""Monitoring of the active model: input drift, predicted state mix, live quality, verdict.

The verdict is deliberately simple, so a sales team can check it by hand (docs/monitoring.md):
retrain when any input or the predicted state mix has drifted (PSI 0.25 or more over a
window with enough customers), or when live macro recall has fallen more than 0.10 below the
test split's on at least `MIN_LABELLED` labelled customers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from app.monitoring import live_inputs, quality
from app.monitoring.cache import TtlCache
from app.monitoring.schemas import (
    ComparedWithTest,
    FeatureDrift,
    LiveQuality,
    MonitoringRead,
    Retrain,
    StateCalibration,
    StateCalibrationOnTest,
    StateQuality,
    WindowRead,
)
from training.artifacts import LoadedModel
from training.drift import DRIFT_FROM, Reference, known_psi, level_of, psi, shares_in
from training.features import STATES

WINDOWS = (7, 30)
SAMPLE_LIMIT = 50_000
"""Customers read per window, at most (the most recently scored)."""
MIN_WINDOW_CUSTOMERS = 100
"""Below this, a window's PSI is mostly noise: shown, but no reason to retrain."""
MIN_LABELLED = 50
"""Below this many labelled customers, live figures are shown but not concluded from."""
RECALL_DROP = 0.10
"""Live macro recall this far below the test split's means the model got worse."""
CALIBRATION_GAP = 0.05
"""A state's live calibration error, beyond what chance gives, this far above its test one
(five percentage points, on average): its percentages have moved away from reality."""
DEFAULT_QUALITY_DAYS = 30


def monitor(
    session: Session,
    model: LoadedModel,
    *,
    now: datetime,
    window_days: int = DEFAULT_QUALITY_DAYS,
    sample_limit: int = SAMPLE_LIMIT,
) -> MonitoringRead:
    """The whole report for `model`, from the customers and labels in the database."""
    reference = _reference(model)
    windows: dict[str, WindowRead] = {}
    if reference is not None:
        for days in WINDOWS:
            since = now - timedelta(days=days)
            sample = live_inputs.read_window(session, model.layout, since=since, limit=sample_limit)
            windows[str(days)] = _window(days, sample, reference, model.version)
    labelled = quality.labelled_since(
        session, now - timedelta(days=window_days), limit=sample_limit
    )
    live = _live_quality(window_days, labelled, model)
    note = None
    if reference is None:
        note = (
            f"model {model.version} was trained without a monitoring reference, so input "
            "drift cannot be measured; retrain it (dealnode train) to enable drift checks"
        )
    return MonitoringRead(
        model_version=model.version,
        computed_at=now,
        drift_available=reference is not None,
        drift_note=note,
        windows=windows,
        live_quality=live,
        retrain=advice(windows, live, note),
    )


def advice(windows: dict[str, WindowRead], live: LiveQuality, note: str | None) -> Retrain:
    """The retrain rule (module docstring), with its reasons or why it is not met yet."""
    reasons: list[str] = []
    waiting: list[str] = []
    for key, window in windows.items():
        if not window.enough:
            waiting.append(
                f"only {window.customers} customers scored in the last {key} days "
                f"(drift is judged from {MIN_WINDOW_CUSTOMERS})"
            )
            continue
        drifted = [f for f in window.features if f.level == "drift"]
        if drifted:
            named = ", ".join(f"{f.name} (PSI {f.psi:.2f})" for f in drifted[:5])
            more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
            reasons.append(f"inputs drifted in the last {key} days: {named}{more}")
        if window.state_mix_psi is not None and window.state_mix_psi >= DRIFT_FROM:
            reasons.append(
                f"the predicted state mix of the last {key} days moved from training's "
                f"(PSI {window.state_mix_psi:.2f})"
            )
    if note is not None:
        waiting.append(note)
    compared = live.compared_with_test
    if not live.enough:
        waiting.append(
            f"only {live.labelled} labelled customers in the last {live.window_days} days "
            f"(live quality is judged from {live.minimum})"
        )
    elif compared.macro_recall_live is not None and compared.macro_recall_test is not None:
        drop = compared.macro_recall_test - compared.macro_recall_live
        if drop > RECALL_DROP:
            reasons.append(
                f"live macro recall {compared.macro_recall_live:.2f} is {drop:.2f} below the "
                f"test split's {compared.macro_recall_test:.2f}"
            )
        else:
            waiting.append(
                f"live macro recall {compared.macro_recall_live:.2f} is within "
                f"{RECALL_DROP:.2f} of the test split's {compared.macro_recall_test:.2f}"
            )
    if reasons:
        return Retrain(advised=True, because=reasons)
    if windows and all(w.enough for w in windows.values()):
        waiting.insert(0, f"no input or state mix reached PSI {DRIFT_FROM}")
    return Retrain(advised=False, because=waiting)


def _reference(model: LoadedModel) -> Reference | None:
    entry = model.metadata.get("monitoring_reference")
    if not isinstance(entry, dict):
        return None
    try:
        reference = Reference.from_json(entry)
    except (KeyError, TypeError, ValueError):
        return None
    if [p.name for p in reference.features] != list(model.layout.columns):
        return None
    return reference


def _window(
    days: int, sample: live_inputs.WindowSample, reference: Reference, version: str
) -> WindowRead:
    features = []
    if sample.customers:
        for i, profile in enumerate(reference.features):
            live = shares_in(profile, sample.matrix[:, i])
            value = known_psi(profile, live)
            features.append(
                FeatureDrift(
                    name=profile.name,
                    psi=value,
                    level=None if value is None else level_of(value),
                    missing_training=profile.missing_share,
                    missing_live=live[-1],
                )
            )
        features.sort(key=lambda f: float("inf") if f.psi is None else -f.psi)
    index = {s: i for i, s in enumerate(STATES)}
    winners = [
        index[s]
        for s, v in zip(sample.states, sample.model_versions, strict=True)
        if v == version and s in index
    ]
    counts = np.bincount(np.asarray(winners, dtype=np.intp), minlength=len(STATES))
    mix = {s: float(c) / max(len(winners), 1) for s, c in zip(STATES, counts.tolist(), strict=True)}
    mix_psi = None
    if winners:
        expected = [reference.state_mix[s] for s in STATES]
        mix_psi = psi(expected, [mix[s] for s in STATES])
    return WindowRead(
        days=days,
        customers=sample.customers,
        sampled=sample.sampled,
        enough=sample.customers >= MIN_WINDOW_CUSTOMERS,
        features=features,
        state_mix=mix,
        training_state_mix=reference.state_mix,
        state_mix_psi=mix_psi,
        state_mix_level=None if mix_psi is None else level_of(mix_psi),
    )


def _live_quality(window_days: int, labelled: quality.Labelled, model: LoadedModel) -> LiveQuality:
    figures = quality.quality_of(labelled)
    test = model.metadata.get("metrics", {}).get("test", {}).get("model", {})
    recall_test = {
        s: float(v["recall"]) for s, v in test.get("per_state", {}).items() if "recall" in v
    }
    present = [s for s, v in figures["per_state"].items() if v["support"]]
    tested = [recall_test[s] for s in present if s in recall_test]
    macro_test = float(np.mean(tested)) if tested and len(tested) == len(present) else None
    calibration_test = {
        s: StateCalibrationOnTest(**vars(v))
        for s, v in (model.reliability.per_state.items() if model.reliability else ())
    }
    enough = len(labelled.truth) >= MIN_LABELLED
    return LiveQuality(
        window_days=window_days,
        labelled=len(labelled.truth),
        unscored=labelled.unscored,
        minimum=MIN_LABELLED,
        enough=enough,
        per_state={s: StateQuality(**v) for s, v in figures["per_state"].items()},
        macro_recall=figures["macro_recall"],
        ece=figures["ece"],
        calibration={
            s: StateCalibration(
                **v, drifted=enough and percentages_drifted(v, calibration_test.get(s))
            )
            for s, v in figures["calibration"].items()
        },
        calibration_minimum=quality.MIN_STATE_CUSTOMERS,
        calibration_gap=CALIBRATION_GAP,
        compared_with_test=ComparedWithTest(
            macro_recall_test=macro_test,
            macro_recall_live=figures["macro_recall"],
            ece_test=test.get("ece"),
            recall_test=recall_test,
            calibration_test=calibration_test,
        ),
    )


def percentages_drifted(live: dict[str, Any], test: StateCalibrationOnTest | None) -> bool:
    """Whether a state's live percentages have moved away from reality.

    A binned error is never 0 on a sample (exact percentages show about `chance_error`), and
    its spread by chance grows with that figure, so what counts is the error beyond chance,
    against the test customers' beyond theirs (0 for a model without test figures), and it
    must exceed both `CALIBRATION_GAP` and `chance_error`: on a window of a few dozen labels,
    chance alone moves the error by several points.
    """
    error, chance = live["calibration_error"], live["chance_error"]
    if error is None or chance is None:
        return False
    baseline = 0.0 if test is None else max(test.calibration_error - test.chance_error, 0.0)
    return bool(error - chance - baseline > max(CALIBRATION_GAP, chance))


def current_report(
    sessions: sessionmaker[Session],
    model: LoadedModel,
    cache: TtlCache[MonitoringRead],
    *,
    window_days: int = DEFAULT_QUALITY_DAYS,
) -> MonitoringRead:
    """The report for the served model, reused while fresh (the API, the model page and the
    Prometheus scrape share it)."""

    def compute() -> MonitoringRead:
        with sessions() as session:
            return monitor(session, model, now=datetime.now(UTC), window_days=window_days)

    return cache.get_or_compute((model.version, model.checksum, window_days), compute)
