"""The baseline for the HTTP benchmark: FastAPI parsing the same JSON body, returning a constant."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()
CONSTANT = {"state": "intent", "confidence": 0.5}


@app.post("/v1/predict")
def predict(_body: dict[str, Any]) -> dict[str, Any]:
    """Accept the body the real endpoint gets and do no work."""
    return CONSTANT
