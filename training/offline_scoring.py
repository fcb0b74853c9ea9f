"""Offline scoring of a whole file: `dealnode score`.

A file goes through the service's own scoring function (`prediction.predict`), so its rows get
exactly the probabilities the service would return for the same customers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.artifacts import LoadedModel
from training.dataset import load_customers
from training.errors import DataError
from training.features import STATES
from training.mapping import Mapping
from training.prediction import Prediction, Predictor, predict_table
from training.table import CustomerTable

PROBABILITY_COLUMNS = tuple(f"p_{state}" for state in STATES)
AT_RISK_COLUMN = "p_at_risk"
SEGMENT_COLUMN = "model_segment"
"""For a segment family: the segment whose own model scored the row (empty: the global one)."""


def score_table(model: LoadedModel, table: CustomerTable) -> pd.DataFrame:
    """Return id, state, one probability column per state, the at-risk probability when the
    model has an at-risk part, the model version and, for a segment family, which member
    scored the row."""
    try:
        prediction = predict_table(Predictor(model), table)
    except KeyError as exc:
        raise DataError(f"column {exc} is needed by model {model.version} but missing") from None
    frame = scores_frame(table.ids, prediction)
    if prediction.at_risk is not None:  # a model trained with the at-risk label
        frame.insert(len(frame.columns) - 1, AT_RISK_COLUMN, prediction.at_risk)
    if model.segments is not None:
        frame[SEGMENT_COLUMN] = list(prediction.segment_names())
    return frame


def scores_frame(ids: pd.Index, prediction: Prediction) -> pd.DataFrame:
    """Lay out predictions as the scoring output's columns."""
    states = np.asarray(STATES, dtype=object)[prediction.winners]
    frame = pd.DataFrame(prediction.probabilities, columns=list(PROBABILITY_COLUMNS))
    frame.insert(0, "state", states)
    frame.insert(0, "customer_id", ids.to_numpy())
    frame["model_version"] = prediction.model_version
    return frame


def score_file(
    model: LoadedModel,
    source: Path,
    destination: Path,
    *,
    mapping: Mapping | None = None,
    as_of: pd.Timestamp | None = None,
) -> int:
    """Score every row of `source` into `destination` (CSV or Parquet by suffix); return rows."""
    suffix = destination.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise DataError(f"output {destination.name}: use a .csv or .parquet file name")
    table = load_customers(source, mapping, require_labels=False, as_of=as_of)
    scores = score_table(model, table)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.partial")
    if suffix == ".csv":
        scores.to_csv(tmp, index=False, float_format="%.6f")
    else:
        scores.to_parquet(tmp, index=False)
    tmp.replace(destination)
    return len(scores)
