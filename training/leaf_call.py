"""The leaves a few rows reach, from LightGBM's C library without its Python wrapper.

`Booster.predict` spends about 120 us per call on Python-side checks before the C call that
does the work (80 us for one row here): most of a single request's time in the tree pass, paid
once per booster. A request with an at-risk model asks two boosters, so the direct call is what
keeps one customer's predict as fast as before. It uses names LightGBM does not promise to keep
(`_LIB`, the C API's constants): when they are missing, `direct_leaf_call` gives None and the
caller uses `Booster.predict`; a test holds the two to the same leaves.
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

LeafCall = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.intp]]


def direct_leaf_call(booster: lgb.Booster, n_trees: int, threads: int) -> LeafCall | None:
    """A function from rows to their leaves in every tree, or None without the C names."""
    try:
        basic = importlib.import_module("lightgbm.basic")
        dtype, leaf_index = basic._C_API_DTYPE_FLOAT64, basic._C_API_PREDICT_LEAF_INDEX
        predict, check = basic._LIB.LGBM_BoosterPredictForMat, basic._safe_call
        handle = booster._handle
    except AttributeError:
        return None
    params = f"num_threads={threads}".encode()
    row_major = 1
    all_iterations = -1

    def leaves(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        rows, columns = data.shape
        out = np.empty(rows * n_trees, dtype=np.float64)
        written = ctypes.c_int64(0)
        check(
            predict(
                handle,
                data.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(dtype),
                ctypes.c_int32(rows),
                ctypes.c_int32(columns),
                ctypes.c_int(row_major),
                ctypes.c_int(leaf_index),
                ctypes.c_int(0),
                ctypes.c_int(all_iterations),
                ctypes.c_char_p(params),
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        if written.value != out.size:
            raise ValueError(f"LightGBM gave {written.value} leaves for {out.size}")
        return out.astype(np.intp).reshape(rows, n_trees)

    return leaves
