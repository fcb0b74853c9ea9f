"""Search LightGBM's hyperparameters within a time or trial budget: `dealnode train --budget`.

The search never sees the validation customers. They already do three jobs after it (early
stopping, the temperature, the rule that picks the shown state); settings chosen by their score
would make that score, and everything fitted on those rows, look better than it is. So the
search splits the *training* customers 80/20 (stratified, seeded) and judges each setting by
multiclass log loss on the inner 20%: the probabilities are what sellers see, and log loss
moves smoothly where macro-F1 jumps about on a few hundred rows.

The default settings are always the first trial, so the choice is never worse than them on
the inner split. Optuna's TPE sampler is seeded and runs one trial at a time, and LightGBM runs
deterministically, so the same data, seed and `trials` give the same trials and the same
choice. Under a time budget the sequence is the same, but how much of it fits depends on the
machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import optuna
import pandas as pd
from sklearn.model_selection import train_test_split

from training.fitting import (
    DEFAULT_PARAMS,
    EARLY_STOPPING_ROUNDS,
    MAX_ROUNDS,
    default_leaf_size,
    feature_names,
)

INNER_VALIDATION_SHARE = 0.2
PRUNE_PERCENTILE = 75.0
"""Prune only a trial in the worst quarter at its round. Rounds compare unfairly across
learning rates (a slow one is behind early and may end ahead); the median pruner stopped 26
of 33 trials on the 50,000-customer simulator and found nothing better than the defaults in
two minutes, this one stopped 12 of 24 and did (benchmarks/README.md, "Tuning")."""
PRUNE_AFTER_TRIALS = 4
"""Trials that must finish before any is pruned: a percentile of fewer says little."""
PRUNE_WARMUP_ROUNDS = 30
"""Rounds a trial always gets: early rounds favour high learning rates, not good settings."""
NO_L1 = 1e-8
"""The default has no L1 penalty; a log scale cannot hold 0, and 1e-8 changes no split."""
TRIAL_THREADS = 1
"""A trial is many small trees; syncing two OpenMP threads per tree cost more than it saved
(3,200 rows on the shared 2-core machine: 1.0 s on one thread, 8.7 s on two)."""
_METRIC = "multi_logloss"
_TUNED = (
    "learning_rate",
    "num_leaves",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "lambda_l1",
    "lambda_l2",
    "min_gain_to_split",
)


@dataclass(frozen=True)
class TuningResult:
    """What the search chose and what it cost, for the metadata and the report."""

    chosen: dict[str, Any]
    """The tuned settings only; `fit_model` lays them over its defaults."""
    trials_run: int
    trials_pruned: int
    trials_cut: int
    """Trials stopped because the budget ran out (not counted as pruned)."""
    best_inner_log_loss: float
    default_inner_log_loss: float
    seconds: float
    budget_seconds: float | None
    trial_limit: int | None
    seed: int
    inner_rows: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        """The `tuning` object of metadata.json."""
        return {
            "budget_seconds": self.budget_seconds,
            "trial_limit": self.trial_limit,
            "seconds": round(self.seconds, 3),
            "trials_run": self.trials_run,
            "trials_pruned": self.trials_pruned,
            "trials_cut": self.trials_cut,
            "best_inner_log_loss": self.best_inner_log_loss,
            "default_inner_log_loss": self.default_inner_log_loss,
            "chosen": self.chosen,
            "seed": self.seed,
            "optuna": optuna.__version__,
            "inner_rows": {"train": self.inner_rows[0], "validation": self.inner_rows[1]},
        }

    def params_for_fit(self, fixed: dict[str, Any]) -> dict[str, Any]:
        """The settings for the final fit: the chosen ones, under whatever the caller pinned."""
        return {**self.chosen, **fixed}

    def report_section(self) -> str:
        """The report's "Tuning" section, in words a sales-ops reader can follow."""
        budget = ""
        if self.budget_seconds is not None:
            budget = f" (budget {_duration(self.budget_seconds)})"
        stopped = f"{self.trials_pruned} stopped early as unpromising"
        if self.trials_cut:
            stopped += f", {self.trials_cut} cut off when the time ran out"
        lines = [
            "## Tuning",
            "",
            f"Before the final fit, {self.trials_run} settings of LightGBM's hyperparameters "
            f"were tried in {_duration(self.seconds)}{budget}; {stopped}. Each was fitted on "
            f"{self.inner_rows[0]:,} of the training customers and judged by log loss on the "
            f"other {self.inner_rows[1]:,}; the validation and test customers took no part.",
            "",
        ]
        if self.best_inner_log_loss < self.default_inner_log_loss:
            gain = 1 - self.best_inner_log_loss / self.default_inner_log_loss
            lines.append(
                f"The chosen settings reach a log loss of {self.best_inner_log_loss:.4f} there, "
                f"against {self.default_inner_log_loss:.4f} with the defaults ({gain:.1%} lower), "
                "and the model above was fitted with them."
            )
        else:
            lines.append(
                f"None beat the default settings ({self.default_inner_log_loss:.4f} log loss "
                "there), so the model above was fitted with the defaults."
            )
        defaults = default_point(self.inner_rows[0])
        lines += ["", "| setting | chosen | default |", "|---|---:|---:|"]
        lines += [
            f"| {name} | {_number(value)} | {_number(defaults.get(name))} |"
            for name, value in self.chosen.items()
        ]
        return "\n".join(lines)


def tune(
    x_train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    *,
    categorical: list[int],
    seed: int = 0,
    budget_seconds: float | None = None,
    trials: int | None = None,
    fixed: dict[str, Any] | None = None,
) -> TuningResult:
    """Search until `budget_seconds` pass or `trials` trials ran, whichever comes first.

    `fixed` are settings the caller pinned; every trial uses them, and they are not reported
    as chosen, since the search did not choose them.
    """
    if budget_seconds is None and trials is None:
        raise ValueError("tune needs a time budget, a trial count or both")
    if (budget_seconds is not None and budget_seconds <= 0) or (trials is not None and trials < 1):
        raise ValueError(
            f"tune needs a positive budget and trial count, not {budget_seconds}, {trials}"
        )
    started = time.monotonic()
    inner_train, inner_val = _inner_split(y_train, seed)
    matrix = x_train.to_numpy(np.float64)
    data = _InnerData(
        x_train=matrix[inner_train],
        y_train=y_train[inner_train],
        x_val=matrix[inner_val],
        y_val=y_train[inner_val],
        names=feature_names(list(x_train.columns)),
        categorical=categorical,
    )
    deadline = None if budget_seconds is None else started + budget_seconds
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is noise here
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.PercentilePruner(
            PRUNE_PERCENTILE,
            n_startup_trials=PRUNE_AFTER_TRIALS,
            n_warmup_steps=PRUNE_WARMUP_ROUNDS,
        ),
    )
    study.enqueue_trial(default_point(len(inner_train)))
    objective = _objective(data, seed=seed, fixed=fixed or {}, deadline=deadline)
    try:
        study.optimize(objective, n_trials=1)  # the defaults, whatever the budget
        more = None if trials is None else trials - 1
        left = None if deadline is None else deadline - time.monotonic()
        if more != 0 and (left is None or left > 0):
            study.optimize(objective, n_trials=more, timeout=left, n_jobs=1)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _result(
        study,
        seconds=time.monotonic() - started,
        budget_seconds=budget_seconds,
        trial_limit=trials,
        seed=seed,
        inner_rows=(len(inner_train), len(inner_val)),
        fixed=fixed or {},
    )


def default_point(rows: int) -> dict[str, Any]:
    """The search space's point for the settings `fit_model` uses when nobody tunes."""
    return {
        "learning_rate": DEFAULT_PARAMS["learning_rate"],
        "num_leaves": DEFAULT_PARAMS["num_leaves"],
        "min_data_in_leaf": default_leaf_size(rows),
        "feature_fraction": DEFAULT_PARAMS["feature_fraction"],
        "bagging_fraction": DEFAULT_PARAMS["bagging_fraction"],
        "lambda_l1": NO_L1,
        "lambda_l2": DEFAULT_PARAMS["lambda_l2"],
        "min_gain_to_split": 0.0,
    }


def suggest(trial: optuna.Trial, rows: int) -> dict[str, Any]:
    """Draw one setting; leaf sizes scale with the data, as `fit_model`'s default does."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, max(10, rows // 40), log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", NO_L1, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "min_gain_to_split": trial.suggest_float("min_gain_to_split", 0.0, 1.0),
    }


@dataclass(frozen=True)
class _InnerData:
    x_train: npt.NDArray[np.float64]
    y_train: npt.NDArray[np.int64]
    x_val: npt.NDArray[np.float64]
    y_val: npt.NDArray[np.int64]
    names: list[str]
    categorical: list[int]


def _inner_split(
    y: npt.NDArray[np.int64], seed: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    counts = np.bincount(y)
    # Stratifying needs two rows of every present state; a tiny export may lack them.
    stratify = y if counts[counts > 0].min() >= 2 else None
    inner_train, inner_val = train_test_split(
        np.arange(len(y)), test_size=INNER_VALIDATION_SHARE, random_state=seed, stratify=stratify
    )
    return np.sort(inner_train), np.sort(inner_val)


def _objective(
    data: _InnerData, *, seed: int, fixed: dict[str, Any], deadline: float | None
) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        params = {
            **DEFAULT_PARAMS,
            "num_threads": TRIAL_THREADS,
            **suggest(trial, len(data.y_train)),
            **fixed,
            "seed": seed,
            "feature_pre_filter": False,
        }
        train_set = lgb.Dataset(
            data.x_train,
            label=data.y_train,
            feature_name=data.names,
            categorical_feature=data.categorical,
        )
        val_set = lgb.Dataset(data.x_val, label=data.y_val, reference=train_set)
        # The default settings always finish: they are the yardstick and the fallback.
        cut_at = None if trial.number == 0 else deadline
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[val_set],
            valid_names=["inner"],
            callbacks=[
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False),
                _report_to(trial, cut_at),
            ],
        )
        return float(booster.best_score["inner"][_METRIC])

    return objective


def _report_to(trial: optuna.Trial, deadline: float | None) -> Callable[[Any], None]:
    """A LightGBM callback that lets the pruner stop a poor trial, and the clock any trial.

    Checking the clock every round, not only between trials, keeps a search from running
    past its budget by more than one boosting round.
    """

    def callback(env: Any) -> None:
        for _, metric, value, _ in env.evaluation_result_list:
            if metric == _METRIC:
                trial.report(float(value), step=env.iteration)
        if trial.should_prune():
            raise optuna.TrialPruned(f"round {env.iteration}: in the worst quarter of trials")
        if deadline is not None and time.monotonic() > deadline:
            trial.set_user_attr("cut", True)
            raise optuna.TrialPruned("the time budget ran out")

    return callback


def _result(
    study: optuna.Study,
    *,
    seconds: float,
    budget_seconds: float | None,
    trial_limit: int | None,
    seed: int,
    inner_rows: tuple[int, int],
    fixed: dict[str, Any],
) -> TuningResult:
    finished = [t for t in study.trials if t.state.is_finished()]
    stopped = [t for t in finished if t.state == optuna.trial.TrialState.PRUNED]
    cut = sum(1 for t in stopped if t.user_attrs.get("cut"))
    default = study.trials[0]
    assert default.value is not None, "the default trial is never cut or pruned"
    best = study.best_trial
    chosen = {k: v for k, v in best.params.items() if k in _TUNED and k not in fixed}
    return TuningResult(
        chosen=chosen,
        trials_run=len(finished),
        trials_pruned=len(stopped) - cut,
        trials_cut=cut,
        best_inner_log_loss=float(study.best_value),
        default_inner_log_loss=float(default.value),
        seconds=seconds,
        budget_seconds=budget_seconds,
        trial_limit=trial_limit,
        seed=seed,
        inner_rows=inner_rows,
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
