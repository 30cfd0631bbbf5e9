"""The small models that weigh the cues: logistic regressions with their weights in
``data/model.json``, trained on the labelled real articles by ``make train-extractor``
(``tools/train_extractor.py``).

Three models: ``pair`` (does institution a lead institution b in a reported formation?),
``lead`` (is an institution the lead of a formation whose members are not named?) and
``relevance`` (does the article report a formation at all?). Inference is a dot product,
pure Python, no numerical library at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import mul
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).with_name("data") / "model.json"


@dataclass(frozen=True)
class Logistic:
    bias: float
    weights: dict[str, float]
    threshold: float = 0.5

    def probability(self, features: dict[str, float]) -> float:
        # weights.get(k, 0.0) * v for each feature, in order, with no Python-level loop: the
        # same terms summed in the same order as a generator would give them
        terms = map(mul, map(self.weights.get, features, repeat(0.0)), features.values())
        z = self.bias + sum(terms)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_json(self) -> dict[str, Any]:
        return {
            "bias": self.bias,
            "threshold": self.threshold,
            "weights": dict(sorted(self.weights.items())),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Logistic:
        return cls(
            float(data["bias"]),
            {str(k): float(v) for k, v in data["weights"].items()},
            float(data.get("threshold", 0.5)),
        )


@dataclass(frozen=True)
class Models:
    pair: Logistic
    lead: Logistic
    relevance: Logistic
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "pair": self.pair.to_json(),
            "lead": self.lead.to_json(),
            "relevance": self.relevance.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Models:
        return cls(
            Logistic.from_json(data["pair"]),
            Logistic.from_json(data["lead"]),
            Logistic.from_json(data["relevance"]),
            dict(data.get("meta", {})),
        )


@lru_cache(maxsize=1)
def trained_models() -> Models:
    """The models shipped with the extractor (read once per process)."""
    return Models.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))
