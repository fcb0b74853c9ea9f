"""Hyperparameter search: repeatable by trial count, never worse than the defaults on its own
inner split, prunes poor trials, stops at the clock, and leaves its mark on the model only
when it ran."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import optuna
import pandas as pd
import pytest

from training.dataset import to_customer_table
from training.design import design_matrix, fit_layout
from training.fitting import label_codes
from training.mapping import NATIVE_MAPPING
from training.simulation import Simulation
from training.train import TrainConfig, TrainResult, train
from training.tuning import TuningResult, _report_to, default_point, tune

ROWS = 2000


@pytest.fixture(scope="module")
def small(simulation: Simulation) -> tuple[pd.DataFrame, npt.NDArray[np.int64], list[int]]:
    """The design matrix, labels and categorical columns of 2,000 simulated customers."""
    table = to_customer_table(simulation.snapshot.iloc[:ROWS], NATIVE_MAPPING, require_labels=True)
    assert table.labels is not None
    layout = fit_layout(table)
    return design_matrix(table, layout), label_codes(table.labels), layout.categorical_positions


def test_the_same_seed_and_trial_count_choose_the_same_settings(
    small: tuple[pd.DataFrame, npt.NDArray[np.int64], list[int]],
) -> None:
    x, y, categorical = small
    first = tune(x, y, categorical=categorical, seed=1, trials=4)
    again = tune(x, y, categorical=categorical, seed=1, trials=4)
    assert first.trials_run == 4
    assert first.chosen == again.chosen
    assert first.best_inner_log_loss == again.best_inner_log_loss
    other = tune(x, y, categorical=categorical, seed=2, trials=4)
    # Another seed draws other settings (and another inner split), so the seed is really used.
    assert other.default_inner_log_loss != first.default_inner_log_loss


def test_the_defaults_run_first_and_are_never_beaten_by_a_worse_choice(
    small: tuple[pd.DataFrame, npt.NDArray[np.int64], list[int]],
) -> None:
    x, y, categorical = small
    only_defaults = tune(x, y, categorical=categorical, seed=3, trials=1)
    assert only_defaults.chosen == default_point(only_defaults.inner_rows[0])
    assert only_defaults.best_inner_log_loss == only_defaults.default_inner_log_loss
    searched = tune(x, y, categorical=categorical, seed=3, trials=12)
    assert searched.default_inner_log_loss == only_defaults.default_inner_log_loss
    assert searched.best_inner_log_loss <= searched.default_inner_log_loss
    assert searched.trials_run == 12
    assert searched.trials_pruned >= 1, "twelve trials and the pruner stopped none"
    assert searched.trials_cut == 0  # no clock, so nothing was cut for time


def test_a_budget_shorter_than_one_fit_still_measures_the_defaults(
    small: tuple[pd.DataFrame, npt.NDArray[np.int64], list[int]],
) -> None:
    x, y, categorical = small
    result = tune(x, y, categorical=categorical, seed=0, budget_seconds=1e-6)
    assert result.trials_run == 1
    assert result.trials_cut == 0
    assert result.chosen == default_point(result.inner_rows[0])


@pytest.mark.parametrize(("budget", "trials"), [(None, None), (0.0, None), (None, 0), (-1.0, 3)])
def test_a_search_without_a_positive_bound_is_refused(
    small: tuple[pd.DataFrame, npt.NDArray[np.int64], list[int]],
    budget: float | None,
    trials: int | None,
) -> None:
    x, y, categorical = small
    with pytest.raises(ValueError, match="tune needs"):
        tune(x, y, categorical=categorical, budget_seconds=budget, trials=trials)


def test_a_trial_running_past_the_deadline_is_cut_and_marked() -> None:
    study = optuna.create_study()
    trial = study.ask()
    env = SimpleNamespace(
        iteration=3, evaluation_result_list=[("inner", "multi_logloss", 0.9, False)]
    )
    with pytest.raises(optuna.TrialPruned, match="time budget"):
        _report_to(trial, deadline=0.0)(env)
    assert trial.user_attrs["cut"] is True
    on_time = study.ask()
    _report_to(on_time, deadline=None)(env)  # no pruner history, no clock: it goes on
    assert "cut" not in on_time.user_attrs


def _result(best: float, default: float) -> TuningResult:
    return TuningResult(
        chosen={**default_point(800), "learning_rate": 0.05},
        trials_run=37,
        trials_pruned=12,
        trials_cut=1,
        best_inner_log_loss=best,
        default_inner_log_loss=default,
        seconds=118.4,
        budget_seconds=120.0,
        trial_limit=None,
        seed=0,
        inner_rows=(800, 200),
    )


def test_the_report_section_says_what_was_tried_and_what_it_gained() -> None:
    text = _result(0.8710, 0.8840).report_section()
    assert text.startswith("## Tuning")
    assert "37 settings" in text
    assert "1 min 58 s (budget 2 min 0 s)" in text
    assert "12 stopped early" in text
    assert "1 cut off" in text
    assert "0.8710" in text
    assert "0.8840" in text
    assert "1.5% lower" in text
    assert "| learning_rate | 0.05 | 0.1 |" in text
    unbeaten = _result(0.8840, 0.8840).report_section()
    assert "None beat the default settings" in unbeaten


def test_an_untuned_model_has_no_tuning_in_metadata_or_report(trained: TrainResult) -> None:
    metadata = json.loads((trained.path / "metadata.json").read_text())
    assert metadata["tuning"] is None
    assert "## Tuning" not in (trained.path / "report.md").read_text()


def test_a_tuned_model_is_fitted_with_the_choice_and_says_so(
    simulation: Simulation, tmp_path: Path
) -> None:
    data = tmp_path / "snapshot.parquet"
    simulation.snapshot.iloc[:ROWS].to_parquet(data, index=False)
    # One thread keeps this quick on a busy machine; a pinned learning rate shows pins hold.
    pinned = {"num_threads": 1, "learning_rate": 0.07}
    config = TrainConfig(data=data, models_dir=tmp_path / "models", params=pinned, trials=3)
    result = train(config)
    metadata = json.loads((result.path / "metadata.json").read_text())
    tuning = metadata["tuning"]
    assert tuning["trials_run"] == 3
    assert tuning["trial_limit"] == 3
    assert tuning["budget_seconds"] is None
    assert tuning["seed"] == 0
    assert tuning["best_inner_log_loss"] <= tuning["default_inner_log_loss"]
    assert set(tuning["chosen"]) == set(default_point(100)) - {"learning_rate"}
    assert {k: metadata["params"][k] for k in tuning["chosen"]} == tuning["chosen"]
    assert metadata["params"]["learning_rate"] == 0.07
    report = (result.path / "report.md").read_text()
    assert "## Tuning" in report
    assert "3 settings" in report
