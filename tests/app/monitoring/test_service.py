"""The retrain rule, live figures and the report cache, without a database."""

from __future__ import annotations

import numpy as np
import pytest

from app.monitoring.cache import TtlCache
from app.monitoring.quality import Labelled, quality_of
from app.monitoring.schemas import (
    ComparedWithTest,
    FeatureDrift,
    LiveQuality,
    StateCalibrationOnTest,
    StateQuality,
    WindowRead,
)
from app.monitoring.service import advice, percentages_drifted
from training.artifacts import load_model, read_test_set
from training.features import STATES
from training.prediction import Predictor, predict_table
from training.reliability import Reliability
from training.train import TrainResult

MIX = dict.fromkeys(STATES, 0.2)


def window(days: int, *psis: float, customers: int = 1000, mix_psi: float = 0.01) -> WindowRead:
    features = [
        FeatureDrift(
            name=f"f{i}",
            psi=p,
            level="drift" if p >= 0.25 else "stable",
            missing_training=0.0,
            missing_live=0.0,
        )
        for i, p in enumerate(psis)
    ]
    return WindowRead(
        days=days,
        customers=customers,
        sampled=False,
        enough=customers >= 100,
        features=features,
        state_mix=MIX,
        training_state_mix=MIX,
        state_mix_psi=mix_psi,
        state_mix_level="stable",
    )


def live(labelled: int, macro_live: float | None, macro_test: float | None) -> LiveQuality:
    return LiveQuality(
        window_days=30,
        labelled=labelled,
        unscored=0,
        minimum=50,
        enough=labelled >= 50,
        per_state={s: StateQuality(precision=None, recall=None, support=0) for s in STATES},
        macro_recall=macro_live,
        ece=None,
        calibration={},
        calibration_minimum=20,
        calibration_gap=0.05,
        compared_with_test=ComparedWithTest(
            macro_recall_test=macro_test,
            macro_recall_live=macro_live,
            ece_test=None,
            recall_test={},
            calibration_test={},
        ),
    )


def test_a_drifted_input_or_state_mix_advises_retraining() -> None:
    windows = {"7": window(7, 0.3, 0.01), "30": window(30, 0.05, mix_psi=0.4)}
    verdict = advice(windows, live(0, None, None), None)
    assert verdict.advised is True
    assert verdict.because == [
        "inputs drifted in the last 7 days: f0 (PSI 0.30)",
        "the predicted state mix of the last 30 days moved from training's (PSI 0.40)",
    ]


def test_drift_in_a_window_with_too_few_customers_is_not_a_reason() -> None:
    windows = {"7": window(7, 2.0, customers=30), "30": window(30, 0.01)}
    verdict = advice(windows, live(0, None, None), None)
    assert verdict.advised is False
    assert verdict.because[0].startswith("only 30 customers scored in the last 7 days")


@pytest.mark.parametrize(
    ("labelled", "live_recall", "advised"),
    [(80, 0.60, True), (80, 0.65, False), (49, 0.10, False)],
)
def test_live_recall_more_than_a_tenth_below_test_advises_retraining(
    labelled: int, live_recall: float, advised: bool
) -> None:
    windows = {"7": window(7, 0.01), "30": window(30, 0.01)}
    verdict = advice(windows, live(labelled, live_recall, 0.75), None)
    assert verdict.advised is advised
    if advised:
        assert verdict.because == ["live macro recall 0.60 is 0.15 below the test split's 0.75"]


def test_quality_of_counts_by_hand_and_leaves_undefined_figures_out() -> None:
    # potential: 2 true, both found; intent: 2 true, one called interested; none is loyal.
    labelled = Labelled(
        truth=[0, 0, 2, 2],
        predicted=[0, 0, 2, 1],
        probabilities=[[0.9, 0.1, 0, 0, 0]] * 2 + [[0, 0.2, 0.8, 0, 0], [0, 0.6, 0.4, 0, 0]],
        unscored=0,
    )
    figures = quality_of(labelled)
    per_state = figures["per_state"]
    assert per_state["potential"] == {"precision": 1.0, "recall": 1.0, "support": 2}
    assert per_state["intent"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert per_state["interested"] == {"precision": 0.0, "recall": None, "support": 0}
    assert per_state["loyal"] == {"precision": None, "recall": None, "support": 0}
    assert figures["macro_recall"] == pytest.approx(0.75)  # of the states that occur
    assert figures["ece"] == pytest.approx((2 * 0.1 + 0.2 + 0.6) / 4)


def test_the_cache_reuses_a_value_until_it_is_stale() -> None:
    now = [0.0]
    cache: TtlCache[int] = TtlCache(300, lambda: now[0])
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_compute("a", compute) == 1
    now[0] = 299.0
    assert cache.get_or_compute("a", compute) == 1
    assert cache.get_or_compute("b", compute) == 2  # another key computes its own
    now[0] = 300.0
    assert cache.get_or_compute("a", compute) == 3
    never: TtlCache[int] = TtlCache(0, lambda: now[0])
    assert never.get_or_compute("a", compute) == 4
    assert never.get_or_compute("a", compute) == 5


def _windows_flagged(
    proba: np.ndarray, reliability: Reliability, n: int, *, shift: bool, draws: int = 60
) -> float:
    """The share of `draws` windows of `n` labelled customers (drawn from the test set's
    probabilities, their true states drawn from those probabilities, then moved one state on
    when `shift`) in which some state's percentages are called drifted."""
    rng = np.random.default_rng(11)
    test = {s: StateCalibrationOnTest(**vars(v)) for s, v in reliability.per_state.items()}
    flagged = 0
    for _ in range(draws):
        p = proba[rng.choice(len(proba), n)]
        truth = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 4)
        if shift:
            truth = (truth + 1) % len(STATES)
        labelled = Labelled(truth.tolist(), p.argmax(axis=1).tolist(), p.tolist(), unscored=0)
        figures = quality_of(labelled)["calibration"]
        flagged += any(percentages_drifted(figures[s], test[s]) for s in STATES)
    return flagged / draws


def test_exact_percentages_on_a_small_window_are_rarely_called_drifted(
    trained: TrainResult,
) -> None:
    model = load_model(trained.path)
    assert model.reliability is not None
    table = read_test_set(model.path, model.metadata)
    proba = predict_table(Predictor(model), table).probabilities
    # On 50 customers chance alone puts each binned error well above 0.
    assert _windows_flagged(proba, model.reliability, 50, shift=False) <= 0.05
    assert _windows_flagged(proba, model.reliability, 300, shift=False) == 0.0
    assert _windows_flagged(proba, model.reliability, 300, shift=True) == 1.0
