"""Train, evaluate against baselines, and register one model: `dealnode train`.

Everything is built in a hidden staging directory and published with one rename at the end,
so bad input or a crash leaves nothing half-written in the registry.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm
import numpy as np
import pandas as pd
import sklearn

from training import artifacts, at_risk, registry, reliability, segment_fitting
from training.baselines import fit_baselines
from training.dataset import load_customers
from training.decision import DecisionRule, fit_weights, load_costs
from training.design import design_matrix, fit_layout
from training.drift import reference_of
from training.errors import DataError
from training.features import FEATURE_SET_NAME, FEATURE_SET_VERSION, STATES, feature_set_hash
from training.fitting import SplitMethod, label_codes, split_customers
from training.formulation import choose_and_fit
from training.mapping import Mapping, load_mapping
from training.metrics import chance_ece, evaluate
from training.reliability import reliability_of
from training.report import write_report

if TYPE_CHECKING:
    from training.tuning import TuningResult

MODEL_NAME = "LightGBM (calibrated)"
MOST_PROBABLE_NAME = "LightGBM (calibrated), most probable state"
MIN_ROWS = 20


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and where to put the result."""

    data: Path
    models_dir: Path
    mapping: Path | None = None
    split: SplitMethod = "stratified"
    seed: int = 0
    promote: bool | None = None
    """True: promote; False: never; None: promote only when nothing is promoted yet."""
    params: dict[str, Any] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    """The snapshot time; overrides the mapping's and the data's `as_of`."""
    costs: Path | None = None
    """A cost file for the decision rule; None fits the weights on validation."""
    budget_seconds: float | None = None
    """Search hyperparameters for about this long before the fit (None: no time bound)."""
    trials: int | None = None
    """Search at most this many settings; with neither bound set, nothing is searched."""
    segment_by: str | None = None
    """A categorical input whose largest values may get models of their own
    (`segment_fitting.py`); None: one global model."""


@dataclass(frozen=True)
class TrainResult:
    """The registered model and how it did on the test split."""

    version: str
    path: Path
    metrics: dict[str, dict[str, Any]]
    promoted: bool


def train(config: TrainConfig) -> TrainResult:
    """Fit, evaluate and register a model; raise DataError for input a user must fix."""
    mapping: Mapping | None = load_mapping(config.mapping) if config.mapping else None
    given_rule = load_costs(config.costs) if config.costs else None
    table = load_customers(config.data, mapping, require_labels=True, as_of=config.as_of)
    assert table.labels is not None
    if config.segment_by is not None:
        segment_fitting.check_column(table, config.segment_by)
    y = label_codes(table.labels)
    _check_trainable(y, label_column=(mapping.label if mapping else None) or "state")

    split = split_customers(table, y, method=config.split, seed=config.seed)
    train_rows, val_rows, test_rows = (
        table.subset(split.train),
        table.subset(split.validation),
        table.subset(split.test),
    )
    layout = fit_layout(train_rows)
    x_train, x_val, x_test = (design_matrix(t, layout) for t in (train_rows, val_rows, test_rows))
    y_train, y_val, y_test = y[split.train], y[split.validation], y[split.test]

    tuning = _tune(config, x_train, y_train, layout.categorical_positions)
    params = tuning.params_for_fit(config.params) if tuning else config.params
    choice = choose_and_fit(
        x_train,
        y_train,
        x_val,
        y_val,
        categorical=layout.categorical_positions,
        seed=config.seed,
        params=params,
    )
    fitted = choice.fitted
    proba_val = fitted.predict_proba(x_val.to_numpy(np.float64))
    proba_test = fitted.predict_proba(x_test.to_numpy(np.float64))
    segments, global_test = None, proba_test
    if config.segment_by is not None:
        column = config.segment_by
        segments = segment_fitting.fit_segments(
            segment_fitting.plan(
                column, segment_fitting.segment_values((train_rows, val_rows, test_rows), column)
            ),
            (x_train, x_val),
            (y_train, y_val),
            global_model=fitted,
            formulation=choice.formulation,
            params=params,
            categorical=layout.categorical_positions,
            seed=config.seed,
        )
        proba_val = segments.family_proba(1, x_val, proba_val)
        proba_test = segments.family_proba(2, x_test, proba_test)
    # The rule is fitted on the family's probabilities: routing comes first.
    rule: DecisionRule = given_rule or fit_weights(proba_val, y_val)
    if segments is not None:
        segments.judge_on_test(rule, y_test, global_test, proba_test)
    results: dict[str, dict[str, Any]] = {
        MODEL_NAME: evaluate(y_test, proba_test, rule.decide(proba_test)),
        MOST_PROBABLE_NAME: evaluate(y_test, proba_test),
    }
    results[MODEL_NAME]["ece_by_chance"] = chance_ece(proba_test)
    for baseline in fit_baselines(x_train, y_train, categorical=list(layout.extra_categorical)):
        results[baseline.name] = evaluate(y_test, baseline.predict_proba(x_test))
    shown_val = rule.decide(proba_val)
    validation = evaluate(y_val, proba_val, shown_val)
    risk = at_risk.train_if_labelled(
        None if mapping else at_risk.read_labels(config.data, table.ids),
        split,
        (x_train, x_val, x_test),
        categorical=layout.categorical_positions,
        seed=config.seed,
    )

    importance = pd.Series(
        fitted.booster.feature_importance(importance_type="gain"),
        index=list(layout.columns),
    ).sort_values(ascending=False)
    now = datetime.now(UTC)
    base = registry.base_version(now)
    data_info = {
        "source": str(config.data),
        "mapping": str(config.mapping) if config.mapping else None,
        "fingerprint": artifacts.sha256_file(config.data),
        "mapping_fingerprint": artifacts.sha256_file(config.mapping) if config.mapping else None,
        "as_of": table.as_of.isoformat(),
        "rows": {
            "train": len(split.train),
            "validation": len(split.validation),
            "test": len(split.test),
        },
        "class_counts": {
            s: int(c) for s, c in zip(STATES, np.bincount(y, minlength=5), strict=True)
        },
        "split": split.method,
        "seed": config.seed,
    }
    with artifacts.staging_dir(config.models_dir) as staging:
        booster_meta = artifacts.write_booster(staging, fitted.booster)
        artifacts.write_test_set(staging / artifacts.TEST_SET_FILE, test_rows)
        write_report(
            staging,
            model_name=MODEL_NAME,
            results=results,
            y_true=y_test,
            proba=proba_test,
            importance=importance,
            info=_report_info(base, data_info, fitted.temperature, choice.formulation),
            rule=rule,
            sections=[
                *([tuning.report_section()] if tuning else []),
                *([segment_fitting.report_section(segments)] if segments else []),
            ],
        )
        extra_metadata: dict[str, Any] = {}
        if segments is not None:
            extra_metadata["segments"] = segments.write(staging)
        if risk is not None:
            meta = artifacts.write_booster(
                staging, risk.fitted.booster, artifacts.AT_RISK_BOOSTER_FILE
            )
            extra_metadata["at_risk"] = risk.metadata(meta)
            with (staging / "report.md").open("a") as report:
                report.write("\n" + at_risk.report_section(risk.metrics))
        artifacts.write_metadata(
            staging,
            {
                "version": base,
                "created_at": now.isoformat(),
                "git_sha": registry.git_sha(),
                "feature_set": {
                    "name": FEATURE_SET_NAME,
                    "version": FEATURE_SET_VERSION,
                    "hash": feature_set_hash(),
                },
                "labels": list(STATES),
                "layout": layout.to_json(),
                "calibration": {"method": "temperature", "temperature": fitted.temperature},
                "formulation": choice.to_json(),
                "decision": rule.to_json(),
                "booster": booster_meta,
                "params": fitted.params,
                "tuning": tuning.to_json() if tuning else None,
                "data": data_info,
                "metrics": {
                    "test": {
                        "model": results[MODEL_NAME],
                        "most_probable_state": results[MOST_PROBABLE_NAME],
                        "baselines": {
                            k: v
                            for k, v in results.items()
                            if k not in (MODEL_NAME, MOST_PROBABLE_NAME)
                        },
                    },
                    "validation": {"model": validation},
                },
                reliability.METADATA_KEY: reliability_of(y_test, proba_test).to_json(),
                "feature_importance_gain": {k: float(v) for k, v in importance.items()},
                "monitoring_reference": reference_of(
                    x_train.to_numpy(np.float64), shown_val, layout
                ).to_json(),
                "libraries": _library_versions(),
                **extra_metadata,
            },
        )
        version = artifacts.publish(staging, config.models_dir, base)

    should_promote = config.promote
    if should_promote is None:
        should_promote = registry.promoted_version(config.models_dir) is None
    if should_promote:
        registry.write_pointer(config.models_dir, version)
    return TrainResult(
        version=version,
        path=config.models_dir / version,
        metrics=results,
        promoted=should_promote,
    )


def _tune(
    config: TrainConfig, x_train: pd.DataFrame, y_train: np.ndarray, categorical: list[int]
) -> TuningResult | None:
    """Search hyperparameters on the training customers when a budget or trial count is set."""
    if config.budget_seconds is None and config.trials is None:
        return None
    from training.tuning import tune  # Optuna loads only for a tuned run

    return tune(
        x_train,
        y_train,
        categorical=categorical,
        seed=config.seed,
        budget_seconds=config.budget_seconds,
        trials=config.trials,
        fixed=config.params,
    )


def _check_trainable(y: np.ndarray, *, label_column: str) -> None:
    if len(y) < MIN_ROWS:
        raise DataError(f"column {label_column!r}: only {len(y)} labelled rows; need {MIN_ROWS}")
    present = [STATES[i] for i in np.unique(y)]
    if len(present) < 2:
        raise DataError(
            f"column {label_column!r}: every row is {present[0]!r}; "
            "training needs at least two states"
        )


def _report_info(
    version: str, data: dict[str, Any], temperature: float, formulation: str
) -> dict[str, str]:
    rows = data["rows"]
    return {
        "Model version": version,
        "Training data": data["source"]
        + (f" (mapping {data['mapping']})" if data["mapping"] else ""),
        "Data as of": data["as_of"],
        "Customers (train / validation / test)": (
            f"{rows['train']} / {rows['validation']} / {rows['test']}"
        ),
        "Split": f"{data['split']}, seed {data['seed']}",
        "Feature set": f"{FEATURE_SET_NAME} v{FEATURE_SET_VERSION} ({feature_set_hash()})",
        "Formulation": f"{formulation} (the better of multiclass and ordinal on validation)",
        "Calibration": f"temperature {temperature:.3f} fitted on the validation customers",
    }


def _library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
