"""The paper's published numbers, typed once, with where they stand in the paper.

Sarrato-Alós et al. (2025, A&A), final version (``../shared/paper/sarrato-alos-2025-final.md``).
These are *references*: the book shows them beside what the run measures, in a column
labelled "paper", and never uses them to compute anything. The paper's suites map to the
mock suites by :attr:`galmass.sources.suites.SuiteSpec.analogue` (NIHAO -> ``shaped_core``
and ``core``, AURIGA -> ``shaped_cusp`` and ``cusp``, FIRE-2 -> ``tidal`` and ``heldout``);
:func:`paper_suite` does the mapping.
"""

from __future__ import annotations

from galmass.sources.suites import SUITE_SPECS

__all__ = ["CITATION", "ESTIMATOR_SCATTER_RANGE", "ESTIMATOR_SCATTER", "ESTIMATOR_MEDIAN_RATIO",
           "TABLE1", "TABLE1_BASELINE", "TARP_TRAIN_MAX_DEVIATION", "TARP_HELDOUT_MAX_DEVIATION",
           "CNN_MAF_SCATTER_BEYOND_RH", "paper_suite", "table1_reference"]

CITATION = "Sarrato-Alós et al. (2025, A&A)"

#: Sect. 3 (Fig. 4): 1-sigma dispersion (half the 16-84% width) of M_est / M_true of the five
#: literature estimators on NIHAO + AURIGA, "ranging from 0.26 for Wolf and Errani through 0.30"
#: (Sect. 7: "0.25-0.30").
ESTIMATOR_SCATTER_RANGE: tuple[float, float] = (0.26, 0.30)
#: Sect. 3: the estimators quoted individually.
ESTIMATOR_SCATTER: dict[str, float] = {"wolf": 0.26, "errani": 0.26}
#: Sect. 3: median M_est / M_true of the two innermost estimators ("~15% for Walker and ~10% for
#: Wolf" underprediction); the others are not quoted.
ESTIMATOR_MEDIAN_RATIO: dict[str, float] = {"walker": 0.85, "wolf": 0.90}

#: Table 1 (Sect. 5.2): MSE of log10 M over the ten radii, [evaluation suite][training suites].
TABLE1: dict[str, dict[str, float]] = {
    "NIHAO": {"NIHAO": 0.010, "AURIGA": 0.032, "NIHAO+AURIGA": 0.011},
    "AURIGA": {"NIHAO": 0.021, "AURIGA": 0.008, "NIHAO+AURIGA": 0.010},
    "FIRE-2": {"NIHAO": 0.016, "AURIGA": 0.034, "NIHAO+AURIGA": 0.015},
}
#: Table 1's baseline: every galaxy given the evaluation set's own mean log10 M at each radius.
TABLE1_BASELINE: dict[str, float] = {"NIHAO": 0.316, "AURIGA": 0.265, "FIRE-2": 0.326}

#: Sect. 5.3 (Fig. 10): TARP coverage of the NIHAO+AURIGA model deviates from the diagonal by
#: less than 3% on its training set...
TARP_TRAIN_MAX_DEVIATION = 0.03
#: ... and by up to 20% on FIRE-2 ("excessive overconfidence").
TARP_HELDOUT_MAX_DEVIATION = 0.20

#: Sect. 7: the NIHAO+AURIGA model's 1-sigma scatter of M_pred / M_true is below 21% for
#: radii beyond R_h (and its bias below 1%).
CNN_MAF_SCATTER_BEYOND_RH = 0.21


def paper_suite(suite: str) -> str | None:
    """The paper's suite (``"NIHAO"``, ``"AURIGA"``, ``"FIRE-2"``) a mock suite stands in for."""
    spec = SUITE_SPECS.get(suite)
    return None if spec is None else spec.analogue


def table1_reference(eval_suite: str, model_suites: list[str]) -> float | None:
    """The paper's Table 1 entry for a model trained on ``model_suites`` evaluated on
    ``eval_suite`` (mock suite names), or None where the paper has none."""
    row = TABLE1.get(paper_suite(eval_suite) or "")
    if row is None:
        return None
    key = "+".join(sorted((paper_suite(s) or s for s in model_suites), key=["NIHAO", "AURIGA"].index)
                   ) if all(paper_suite(s) in ("NIHAO", "AURIGA") for s in model_suites) else None
    return row.get(key) if key else None
