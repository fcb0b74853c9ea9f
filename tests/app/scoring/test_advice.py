"""Scoring a batch says, customer by customer, what scoring each alone says, and a stored
score document renders back to exactly the view the API gave."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from app.config import DEFAULT_PLAYBOOK
from app.scoring.actions import load_playbook
from app.scoring.advice import Advisor
from app.scoring.results import ScoredCustomers, ScoreView, document_of, render, stored_action
from app.scoring.schemas import ScoreRead
from app.scoring.serving import ServingModel
from training.dataset import load_customers
from training.explain import GATHER_ROWS
from training.features import STATES
from training.prediction import Predictor, RawInputs, design
from training.train import TrainResult

ROWS = 400
AS_OF = datetime(2026, 11, 24, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Batch:
    """Customers to score, and what scores them."""

    advisor: Advisor
    predictor: Predictor
    inputs: RawInputs
    kinds: list[Any]

    def score(self, rows: slice = slice(None)) -> ScoredCustomers:
        """Score the customers at `rows` in one call."""
        extras = self.inputs.extras
        assert isinstance(extras, Mapping)  # an export's extras come as columns
        columns = {name: column[rows] for name, column in extras.items()}
        inputs = RawInputs(self.inputs.values[rows], columns)
        return self.advisor.score(self.predictor, inputs, self.kinds[rows], as_of=AS_OF)


@pytest.fixture
def scored(trained: TrainResult, snapshot_path: Path) -> Batch:
    serving = ServingModel(trained.path.parent)
    serving.activate(trained.version)
    table = load_customers(snapshot_path, require_labels=False).subset(np.arange(ROWS))
    inputs = RawInputs.of_table(table)
    values = inputs.values.copy()
    rng = np.random.default_rng(3)
    values[rng.random(values.shape) < 0.05] = np.nan  # unknown inputs must never be reasons
    kinds = rng.choice(np.array(["price", "trust", None], dtype=object), ROWS).tolist()
    advisor = Advisor(load_playbook(DEFAULT_PLAYBOOK), low_confidence=0.45)
    return Batch(advisor, serving.predictor, RawInputs(values, inputs.extras), kinds)


def _rounded(read: ScoreView) -> dict[str, Any]:
    """The read with contributions rounded: summing trees in another order moves the last bits."""
    out = dict(read)
    for side in ("reasons_for", "reasons_against"):
        out[side] = [{**r, "contribution": round(r["contribution"], 9)} for r in read[side]]
    return out


def test_batch_predictions_match_scoring_each_customer_alone(scored: Batch) -> None:
    assert ROWS > GATHER_ROWS  # the batch takes the tree-by-tree path, a single row the gather
    layout = scored.predictor.model.layout
    columns = layout.columns
    matrix = design(scored.inputs, AS_OF, layout)
    assert np.isnan(matrix).any()
    ids = [f"c{i}" for i in range(ROWS)]
    reads = scored.score().views(ids)
    for i, read in enumerate(reads):
        [alone] = scored.score(slice(i, i + 1)).views(ids[i : i + 1])
        assert _rounded(read) == _rounded(alone)
        ScoreRead.model_validate(read)
        # The confidence is that of the state shown, which the model's rule chose.
        assert read["confidence"] == read["probabilities"][read["state"]]
        chosen = scored.predictor.model.decision.decide(
            np.array([[read["probabilities"][s] for s in STATES]])
        )
        assert read["state"] == STATES[int(chosen[0])]
        assert sum(read["probabilities"].values()) == pytest.approx(1.0)
        for reason in read["reasons_for"] + read["reasons_against"]:
            assert not np.isnan(matrix[i, columns.index(reason["feature"])])
    assert len({r["next_action"]["code"] for r in reads}) > 3
    assert len({r["state"] for r in reads}) == 5


def test_stored_documents_render_back_to_the_reads(scored: Batch) -> None:
    scores = scored.score()
    ids = [f"c{i}" for i in range(ROWS)]
    reads = scores.views(ids)
    documents = scores.documents()
    for customer_id, read, document in zip(ids, reads, documents, strict=True):
        stored = orjson.loads(orjson.dumps(document))  # as the database gives it back
        assert stored == orjson.loads(orjson.dumps(document_of(read)))
        rendered = render(
            stored,
            customer_id=customer_id,
            state=read["state"],
            confidence=read["confidence"],
            model_version=read["model_version"],
        )
        assert rendered == orjson.loads(orjson.dumps(read))
        assert stored_action(stored) == read["next_action"]
        assert len(orjson.dumps(document)) < len(orjson.dumps(read)) * 0.6


def test_documents_stored_before_the_compact_form_render_as_they_are(scored: Batch) -> None:
    [read] = scored.score(slice(0, 1)).views(["old"])
    rendered = render(read, customer_id="old", state="x", confidence=0.0, model_version="y")
    assert rendered is read
    assert stored_action(read) == read["next_action"]
    assert stored_action(None) == {}
