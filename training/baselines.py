"""Baselines the model must beat on the same test customers, so its numbers mean something.

Each takes the same design matrix as the model (core features, extra numeric columns, and
categorical columns as float codes with NaN for missing) and returns (n, 5) probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from training.features import STATES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
K = len(STATES)
POTENTIAL, INTERESTED, INTENT, DECIDING, LOYAL = range(K)


class Baseline(Protocol):
    """What the report needs of a baseline."""

    name: str

    def fit(self, x: pd.DataFrame, y: IntArray) -> Self:
        """Learn from the training customers."""
        ...

    def predict_proba(self, x: pd.DataFrame) -> FloatArray:
        """State probabilities, one column per state in funnel order."""
        ...


class MajorityBaseline:
    """Always the training class shares: what a model that learnt nothing scores."""

    name = "majority class"

    def __init__(self) -> None:
        self.prior = np.full(K, 1.0 / K)

    def fit(self, x: pd.DataFrame, y: IntArray) -> Self:  # noqa: ARG002
        """Count the classes (with one pseudo-count so no state has probability zero)."""
        counts = np.bincount(y, minlength=K).astype(np.float64) + 1.0
        self.prior = counts / counts.sum()
        return self

    def predict_proba(self, x: pd.DataFrame) -> FloatArray:
        """The prior for every row."""
        return np.asarray(np.tile(self.prior, (len(x), 1)), dtype=np.float64)


def rule_of_thumb(x: pd.DataFrame) -> IntArray:
    """The sales rules of thumb of docs/domain.md, as one decision per customer.

    Read top-down; the first rule that holds decides:
    1. a purchase in the last 90 days -> loyal ("has bought and keeps coming back");
    2. an objection in the last 30 days -> deciding ("objections rise near the decision");
    3. a quote in the last 30 days -> intent ("asks for quotes, replies quickly");
    4. a reply or two visits in the last 90 days -> interested ("visits, opens, a reply");
    5. otherwise -> potential.
    Then silence decays: no contact for 60+ days steps one state down ("a customer who was
    intent and has gone silent for weeks is no longer intent"), except loyal with purchases.
    Unknown counts are taken as zero; unknown recency never decays.
    """

    def col(name: str) -> FloatArray:
        if name not in x.columns:
            return np.zeros(len(x))
        values: FloatArray = np.nan_to_num(x[name].to_numpy(np.float64), nan=0.0)
        return values

    decision = np.full(len(x), POTENTIAL, dtype=np.int64)
    interested = (col("replies_90d") > 0) | (col("visits_90d") >= 2) | (col("replies") > 0)
    decision[interested] = INTERESTED
    decision[(col("quotes_30d") > 0) & (decision < INTENT)] = INTENT
    decision[(col("objections_30d") > 0) & (decision < DECIDING)] = DECIDING
    decision[col("purchases_90d") > 0] = LOYAL
    silent_days = (
        x["days_since_last_contact"].to_numpy(np.float64)
        if "days_since_last_contact" in x.columns
        else np.full(len(x), np.nan)
    )
    silent = np.nan_to_num(silent_days, nan=0.0) >= 60
    decays = silent & (decision > POTENTIAL) & ~((decision == LOYAL) & (col("purchases") > 0))
    decision[decays] -= 1
    return decision


class RuleOfThumbBaseline:
    """docs/domain.md's rules; probabilities are how often each decision was right in training."""

    name = "rule of thumb (docs/domain.md)"

    def __init__(self) -> None:
        self.table = np.full((K, K), 1.0 / K)

    def fit(self, x: pd.DataFrame, y: IntArray) -> Self:
        """Estimate P(true state | rule's decision) with Laplace smoothing."""
        counts = np.ones((K, K))
        np.add.at(counts, (rule_of_thumb(x), y), 1.0)
        self.table = counts / counts.sum(axis=1, keepdims=True)
        return self

    def predict_proba(self, x: pd.DataFrame) -> FloatArray:
        """The row of the learnt table for each decision."""
        return np.asarray(self.table[rule_of_thumb(x)], dtype=np.float64)


def _log1p_nonnegative(values: FloatArray) -> FloatArray:
    return np.asarray(np.log1p(np.clip(values, 0.0, None)), dtype=np.float64)


class LogisticBaseline:
    """Multinomial logistic regression: the strongest simple model on the same features."""

    name = "logistic regression"

    def __init__(self, categorical: Sequence[str] = (), seed: int = 0) -> None:
        self.categorical = list(categorical)
        self.seed = seed
        self.pipeline: Pipeline | None = None
        self.classes: IntArray = np.arange(K)

    def fit(self, x: pd.DataFrame, y: IntArray) -> Self:
        """Impute (with missing flags), log-scale counts, standardise, one-hot categories."""
        usable = [c for c in x.columns if c not in self.categorical and x[c].notna().any()]
        categorical = [c for c in self.categorical if c in x.columns]
        numeric = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            FunctionTransformer(_log1p_nonnegative),
            StandardScaler(),
        )
        transformers: list[tuple[str, object, list[str]]] = [("numeric", numeric, usable)]
        if categorical:
            onehot = make_pipeline(
                SimpleImputer(strategy="constant", fill_value=-1.0),
                OneHotEncoder(handle_unknown="ignore"),
            )
            transformers.append(("categorical", onehot, categorical))
        self.pipeline = Pipeline(
            [
                ("columns", ColumnTransformer(transformers)),
                (
                    "model",
                    LogisticRegression(C=1.0, max_iter=2000, tol=1e-3, random_state=self.seed),
                ),
            ]
        )
        with _one_blas_thread():
            self.pipeline.fit(x, y)
        self.classes = np.asarray(self.pipeline.classes_, dtype=np.int64)
        return self

    def predict_proba(self, x: pd.DataFrame) -> FloatArray:
        """Probabilities for all five states; a state unseen in training gets a tiny share."""
        assert self.pipeline is not None, "fit first"
        with _one_blas_thread():
            seen = self.pipeline.predict_proba(x)
        out = np.full((len(x), K), 1e-6)
        out[:, self.classes] = seen
        return np.asarray(out / out.sum(axis=1, keepdims=True), dtype=np.float64)


def _one_blas_thread() -> threadpool_limits:
    """Run BLAS on one thread: the design matrix has a few dozen columns, too narrow for a
    second thread to gain much, and OpenBLAS's threads spin while they wait, so on a machine
    busy with anything else (a server, the nightly run, another fit) two threads made the fit
    several times slower."""
    return threadpool_limits(limits=1, user_api="blas")


def fit_baselines(
    x_train: pd.DataFrame, y_train: IntArray, *, categorical: Sequence[str] = ()
) -> list[Baseline]:
    """Fit the three baselines on the model's training customers."""
    return [
        MajorityBaseline().fit(x_train, y_train),
        RuleOfThumbBaseline().fit(x_train, y_train),
        LogisticBaseline(categorical).fit(x_train, y_train),
    ]
