"""What the trust checks' numbers say, and the thresholds they are read with: one place, so the
page, ``result.json`` (``python -m core explain --trust``) and a script reading a
:class:`~core.trust.TrustReport` give the same verdict on the same numbers.

- **Faithfulness**: in each of the four deletion / insertion tests the heatmap's order is
  ``better`` than a random order (a smaller area under the deletion curve, a larger one under
  the insertion curve), ``worse``, or a ``tie`` (the areas are within :data:`AUC_TIE` of the
  larger one). All four better: ``faithful``; two or three: ``partly faithful``; else
  ``not faithful``.
- **Time**: which counterfactual clips change the model's top-1 class (``flips``).
- **Sanity**: once the top layers are random, the rank correlation with the trained model's
  map is below :data:`SANITY_RHO` in magnitude: the map ``depends on the weights``; else it is
  ``independent of the weights`` (it shows the clip, not the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["AUC_TIE", "SANITY_RHO", "Verdicts", "judge"]

AUC_TIE = 0.05  # areas under the curves closer than this, relative to the larger one, are a tie
SANITY_RHO = 0.5  # |Spearman| below this after randomisation: the map depends on the weights

BETTER, TIE, WORSE = "better", "tie", "worse"
FAITHFUL, PARTLY_FAITHFUL, NOT_FAITHFUL = "faithful", "partly faithful", "not faithful"
DEPENDS, INDEPENDENT = "depends on the weights", "independent of the weights"
TESTS = ("frames_deletion", "frames_insertion", "regions_deletion", "regions_insertion")


class _Checks(Protocol):
    """What :func:`judge` reads of a :class:`~core.trust.TrustReport` (so this module needs none)."""

    curves: dict
    counterfactuals: dict[str, dict]
    sanity: list[dict]


@dataclass(frozen=True)
class Verdicts:
    """The trust checks of one clip and target, read (see the module's docstring)."""

    tests: dict[str, str]  # each of TESTS -> BETTER, TIE or WORSE than a random order
    faithfulness: str  # FAITHFUL, PARTLY_FAITHFUL or NOT_FAITHFUL
    flips: tuple[str, ...]  # the counterfactuals that change the top-1 class, e.g. ("reversed",)
    sanity: str | None  # DEPENDS or INDEPENDENT; None when the model has no layers to randomise

    @property
    def passed(self) -> int:
        """In how many of the four tests the heatmap's order beats a random one."""
        return sum(m == BETTER for m in self.tests.values())

    def to_dict(self) -> dict:
        return {"faithfulness": self.faithfulness, "passed": self.passed, "tests": self.tests,
                "flips": list(self.flips), "sanity": self.sanity,
                "thresholds": {"auc_tie": AUC_TIE, "sanity_rho": SANITY_RHO}}


def _mark(cam: float, rnd: float, better: int) -> str:
    """``better`` is -1 where a smaller area is better (deletion), +1 where larger (insertion)."""
    gain, tie = better * (cam - rnd), AUC_TIE * max(abs(cam), abs(rnd))
    return BETTER if gain > tie else WORSE if gain < -tie else TIE


def judge(report: _Checks) -> Verdicts:
    """The verdicts on ``report``'s numbers."""
    c = report.curves
    tests = {t: _mark(c[f"{t}_cam"].auc, c[f"{t}_random"].auc, -1 if t.endswith("deletion") else 1)
             for t in TESTS}
    passed = sum(m == BETTER for m in tests.values())
    faithfulness = FAITHFUL if passed == len(TESTS) else PARTLY_FAITHFUL if passed >= 2 else NOT_FAITHFUL
    flips = tuple(name for name, v in report.counterfactuals.items() if v["flipped"])
    sanity = None
    if report.sanity:
        sanity = DEPENDS if abs(report.sanity[-1]["spearman"]) < SANITY_RHO else INDEPENDENT
    return Verdicts(tests, faithfulness, flips, sanity)
