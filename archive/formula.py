"""The formula of the monthly scoring (月度考评) as the operator configures it
(``ARCHIVE_SCORE_WEIGHTS``, ``ARCHIVE_SCORE_WARNING_CREDIT``): read and checked when the
configuration is loaded, applied by ``archive.services.scores``."""
from __future__ import annotations

from dataclasses import dataclass

from archive.labels import SCORE_COMPONENT_NAMES as COMPONENT_NAMES  # noqa: F401  (the names its callers know)

COMPONENTS = ("on_time", "completeness", "warnings", "reviews", "performance", "daily_use", "officers")
ACTIVITY = ("on_time", "completeness", "reviews", "performance")
LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Formula:
    """The weights of the components and the credit of a warning handled in time per level."""

    weights: dict[str, float]
    credit: dict[int, float]

    def describe(self) -> dict:
        total = sum(self.weights.values())
        return {"weights": {k: self.weights[k] for k in COMPONENTS},
                "shares": {k: round(self.weights[k] / total, 4) for k in COMPONENTS},
                "weighted": [k for k in COMPONENTS if self.weights[k] > 0],
                "warning_credit": {str(k): self.credit[k] for k in LEVELS}}


def _pairs(text: str, what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or number < 0 or number != number:
            raise ValueError(f"{what}: “{part}” is not key=non-negative number")
        out[key.strip()] = number
    return out


def formula(config: dict) -> Formula:
    """The formula of ``ARCHIVE_SCORE_WEIGHTS`` (``on_time=25,completeness=20,…``) and
    ``ARCHIVE_SCORE_WARNING_CREDIT`` (``1=1,2=0.5,3=0``); a bad value raises ValueError."""
    weights = _pairs(config["SCORE_WEIGHTS"], "ARCHIVE_SCORE_WEIGHTS")
    unknown = set(weights) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"ARCHIVE_SCORE_WEIGHTS: unknown component(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(COMPONENTS)}")
    weights = {k: weights.get(k, 0.0) for k in COMPONENTS}
    if sum(weights.values()) <= 0:
        raise ValueError("ARCHIVE_SCORE_WEIGHTS: at least one weight must be above 0")
    raw = _pairs(config["SCORE_WARNING_CREDIT"], "ARCHIVE_SCORE_WARNING_CREDIT")
    credit: dict[int, float] = {}
    for key, value in raw.items():
        if key not in {"1", "2", "3"} or value > 1:
            raise ValueError("ARCHIVE_SCORE_WARNING_CREDIT: levels 1, 2, 3 with a credit from 0 to 1")
        credit[int(key)] = value
    return Formula(weights, {lv: credit.get(lv, 0.0) for lv in LEVELS})
