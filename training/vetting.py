"""Vet a booster's text in a throwaway child process before this process parses it.

LightGBM aborts the whole process (C++ `terminate`, SIGABRT) on some malformed model texts,
and no Python `except` can catch that; a checksum only proves the file is the one recorded,
not that LightGBM can read it. So a text this process has not vetted yet is first parsed and
used for one prediction in a child: if the child dies, only the child dies. Vetted checksums
are remembered for the life of the process, so re-activating a model costs nothing.

Run as `python -m training.vetting` with the model text on stdin (the child's side).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from training.errors import ModelError

VET_TIMEOUT_SECONDS = 120.0
"""Generous: a very large model takes seconds to parse; a hung child must still end."""
_LEAN_IMPORTS = ("sklearn", "pandas", "dask", "pyarrow", "cffi", "datatable", "matplotlib")
"""LightGBM's optional integrations: most of its import time, and the child needs none."""
_DETAIL_CHARS = 120

_vetted: set[str] = set()
_vetted_lock = threading.Lock()


def remember(checksum: str) -> None:
    """Trust a text with this SHA-256 from now on (another process of ours vetted it)."""
    with _vetted_lock:
        _vetted.add(checksum)


def is_vetted(checksum: str) -> bool:
    """Whether this process vetted (or was told of) a text with this SHA-256."""
    with _vetted_lock:
        return checksum in _vetted


def vet(text: str, checksum: str, *, what: str, timeout: float = VET_TIMEOUT_SECONDS) -> None:
    """Make sure LightGBM can load `text` without dying; ModelError in one line otherwise.

    `checksum` is the SHA-256 of `text`; `what` names the file in messages.
    """
    if is_vetted(checksum):
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "training.vetting"],
            input=text.encode(),
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"{what} could not be loaded by LightGBM within {timeout:.0f} s") from None
    except OSError as exc:
        raise ModelError(f"{what} could not be vetted: {exc}") from None
    if done.returncode == 0:
        remember(checksum)
        return
    detail = _detail(done.stdout + done.stderr)
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise ModelError(f"{what} is malformed: LightGBM crashed reading it ({name}){detail}")
    raise ModelError(f"{what} cannot be parsed{detail}")


def _detail(output: bytes) -> str:
    """The child's most telling line, short, as `: ...` (or nothing)."""
    lines = [line.strip() for line in output.decode(errors="replace").splitlines()]
    fatal = [line for line in lines if line.startswith("[LightGBM] [Fatal]")]
    ours = [line for line in lines if line.startswith("vetting:")]
    chosen = (ours or fatal or [""])[-1]
    chosen = chosen.removeprefix("[LightGBM] [Fatal]").removeprefix("vetting:").strip()
    if len(chosen) > _DETAIL_CHARS:
        chosen = chosen[: _DETAIL_CHARS - 3] + "..."
    return f": {chosen}" if chosen else ""


def _child() -> int:
    """Load the text on stdin and use it the way serving does; 0 when all went well."""
    for name in _LEAN_IMPORTS:
        sys.modules[name] = None  # type: ignore[assignment]
    import lightgbm as lgb
    import numpy as np

    text = sys.stdin.buffer.read().decode()
    try:
        booster = lgb.Booster(model_str=text)
        booster.dump_model()  # the explainer walks the dumped trees
        rows = np.zeros((2, booster.num_feature()))
        rows[1] = np.nan
        booster.predict(rows, raw_score=True, num_threads=1)
        booster.predict(rows, pred_leaf=True, num_threads=1)
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"vetting: {message}", file=sys.stderr)  # noqa: T201  (read by the parent)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child())
