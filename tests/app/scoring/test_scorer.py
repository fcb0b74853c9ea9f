"""The vectorised prediction path says, customer by customer, what scoring each alone says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.config import DEFAULT_PLAYBOOK
from app.scoring.actions import load_playbook
from app.scoring.explain import GATHER_ROWS
from app.scoring.schemas import ScoreRead
from app.scoring.scorer import Scorer
from training.dataset import load_customers
from training.train import TrainResult

ROWS = 400
AS_OF = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _rounded(read: dict[str, Any]) -> dict[str, Any]:
    """The read with contributions rounded: summing trees in another order moves the last bits."""
    out = dict(read)
    for side in ("reasons_for", "reasons_against"):
        out[side] = [{**r, "contribution": round(r["contribution"], 9)} for r in read[side]]
    return out


def test_batch_predictions_match_scoring_each_customer_alone(
    trained: TrainResult, snapshot_path: Path
) -> None:
    assert ROWS > GATHER_ROWS  # the batch takes the tree-by-tree path, a single row the gather
    scorer = Scorer(trained.path.parent, load_playbook(DEFAULT_PLAYBOOK), low_confidence=0.45)
    model = scorer.activate(trained.version)
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(ROWS))
    matrix = model.matrix(table).copy()
    rng = np.random.default_rng(3)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan  # unknown inputs must never be reasons
    kinds = rng.choice(np.array(["price", "trust", None], dtype=object), ROWS).tolist()
    ids = [f"c{i}" for i in range(ROWS)]
    reads = scorer.predict(matrix, kinds, as_of=AS_OF, customer_ids=ids)
    for i, read in enumerate(reads):
        [alone] = scorer.predict(
            matrix[i : i + 1], kinds[i : i + 1], as_of=AS_OF, customer_ids=ids[i : i + 1]
        )
        assert _rounded(read) == _rounded(alone)
        ScoreRead.model_validate(read)
        assert read["confidence"] == max(read["probabilities"].values())
        assert sum(read["probabilities"].values()) == pytest.approx(1.0)
        for reason in read["reasons_for"] + read["reasons_against"]:
            column = model.layout.columns.index(reason["feature"])
            assert not np.isnan(matrix[i, column])
    assert len({r["next_action"]["code"] for r in reads}) > 3
    assert len({r["state"] for r in reads}) == 5
