"""Raw scores and per-feature contributions from one pass over the trees.

LightGBM's exact TreeSHAP (`pred_contrib`) costs about 1.5-3 ms per customer for a model of a
few hundred trees on this machine, and over a second for a batch of 1,000: far over the
service's latency budget. We use path attribution instead (Saabas; what `treeinterpreter`
and XGBoost's `approx_contribs` compute): in every tree, each split on the customer's path
credits its feature with the change in node value it caused. Like SHAP, the contributions add
up exactly to the raw score minus the model's average. Everything is precomputed per leaf when
the model loads, so one `pred_leaf` call gives both the raw scores (the sum of the leaves'
values, as `predict` computes it) and the contributions. Tests check both against LightGBM.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training.fitting import prediction_threads
from training.leaf_call import direct_leaf_call

FloatArray = npt.NDArray[np.float64]
GATHER_ROWS = 64
"""Below this many rows one gather over all trees is cheaper than a loop over the trees."""


class PathExplainer:
    """Leaf tables of one booster: leaf values and each leaf's path contributions."""

    def __init__(self, booster: lgb.Booster, n_classes: int, threads: int | None = None) -> None:
        self.booster = booster
        self.threads = threads
        """Threads for the tree pass; None: one for small calls, all cores for large ones."""
        self.n_classes = n_classes
        self.n_features = booster.num_feature()
        trees = booster.dump_model()["tree_info"]
        width = max(int(t["num_leaves"]) for t in trees)
        self.contribution = np.zeros((len(trees), width, self.n_features))
        self.leaf_value = np.zeros((len(trees), width))
        self.bias = np.zeros(len(trees))
        for index, tree in enumerate(trees):
            root = tree["tree_structure"]
            self.bias[index] = _value(root)
            self._walk(index, root, np.zeros(self.n_features))
        self._flat_values = self.leaf_value.ravel()
        self._tree_offsets = np.arange(len(trees), dtype=np.intp) * width
        """Leaf (tree t, leaf l) is `_flat_values[_tree_offsets[t] + l]`: one flat gather."""
        self._leaf_call = direct_leaf_call(booster, len(trees), self.threads or 1)

    def _walk(self, tree: int, node: dict[str, Any], path: FloatArray) -> None:
        if "split_feature" not in node:
            leaf = int(node.get("leaf_index", 0))
            self.contribution[tree, leaf] = path
            self.leaf_value[tree, leaf] = _value(node)
            return
        feature = int(node["split_feature"])
        here = _value(node)
        for side in ("left_child", "right_child"):
            child = node[side]
            step = path.copy()
            step[feature] += _value(child) - here
            self._walk(tree, child, step)

    def leaves(self, matrix: FloatArray) -> npt.NDArray[np.intp]:
        """The leaf each row reaches in each tree (trees cycle through the classes)."""
        if len(matrix) < GATHER_ROWS and self._leaf_call is not None:
            return self._leaf_call(matrix)
        threads = self.threads or prediction_threads(len(matrix))
        found = self.booster.predict(matrix, pred_leaf=True, num_threads=threads)
        return np.asarray(found, dtype=np.intp).reshape(len(matrix), -1)

    def raw_scores(self, leaves: npt.NDArray[np.intp]) -> FloatArray:
        """Raw score per class: the sum of the values of the leaves reached."""
        n, used = leaves.shape
        values = np.take(self._flat_values, leaves + self._tree_offsets[:used])
        # einsum adds the trees in order, as LightGBM does, and several times faster than
        # `sum(axis=1)` over this middle axis; a 2-D fancy index costs more than `take` too.
        rounds = values.reshape(n, used // self.n_classes, self.n_classes)
        return np.asarray(np.einsum("ntk->nk", rounds))

    def contributions(
        self, leaves: npt.NDArray[np.intp], classes: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray]:
        """Per row, the contributions towards `classes[row]`, and that class's average score."""
        used = leaves.shape[1]
        if self.n_classes == 1 and len(leaves) < GATHER_ROWS:
            # One class (a binary booster): every tree counts for every row, one gather.
            trees = np.arange(used)
            return self.contribution[trees, leaves].sum(axis=1), np.full(
                len(leaves), self.bias[:used].sum()
            )
        tree_class = np.arange(used) % self.n_classes
        out = np.zeros((len(leaves), self.n_features))
        base = np.zeros(len(leaves))
        for cls in np.unique(classes):
            rows = np.flatnonzero(classes == cls)
            trees = np.flatnonzero(tree_class == cls)
            base[rows] = self.bias[trees].sum()
            if len(rows) < GATHER_ROWS:
                out[rows] = self.contribution[trees[None, :], leaves[np.ix_(rows, trees)]].sum(1)
                continue
            # Tree by tree: one gather of rows x trees x features would allocate a hundred
            # megabytes for a chunk of 5,000 customers and run ten times slower.
            reached = leaves[rows]
            total = np.zeros((len(rows), self.n_features))
            for tree in trees:
                total += self.contribution[tree, reached[:, tree]]
            out[rows] = total
        return out, base


def _value(node: dict[str, Any]) -> float:
    return float(node["leaf_value"] if "leaf_value" in node else node["internal_value"])
