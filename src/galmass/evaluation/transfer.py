"""Transfer diagnostics: how far an evaluation set lies from a model's training set.

A low error on a held-out suite means transfer only if the held-out galaxies are unlike
the training ones. Three numbers say how unlike, each against the model's training split:

- :func:`label_outside_fraction`: projections with a label (log10 M [Msun] at any radius)
  outside the training labels' 1-99% range at that radius;
- the input check of Appendix C (:meth:`galmass.inference.ood.InputDomain.outside`):
  projections whose scalars fall outside the training inputs' 99% contours;
- :func:`nn_label_distance`: the median distance [dex, Euclidean over the radii] from each
  galaxy's label vector to the nearest training galaxy's, with the same statistic within
  the training set (nearest *other* galaxy) for reference. Labels are averaged over a
  galaxy's projections first: projections of one galaxy nearly share their labels, and a
  galaxy's own projections must not count as its neighbours.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from galmass.errors import GalmassError

__all__ = ["label_outside_fraction", "galaxy_labels", "nn_label_distance", "transfer_verdict",
           "INTERPOLATION_RATIO", "INTERPOLATION_OUTSIDE"]

#: A test set whose nearest-neighbour label distance is below this many times the training
#: galaxies' own, with fewer than :data:`INTERPOLATION_OUTSIDE` of its projections' labels
#: outside the training range, sits among the training galaxies (interpolation).
INTERPOLATION_RATIO = 1.5
INTERPOLATION_OUTSIDE = 0.1


def label_outside_fraction(train_labels: np.ndarray, labels: np.ndarray,
                           percentiles: tuple[float, float] = (1.0, 99.0)) -> float:
    """Fraction of rows of ``labels`` (N, n_radii) with any radius outside the training
    labels' ``percentiles`` range at that radius."""
    tr = np.asarray(train_labels, dtype=float)
    y = np.asarray(labels, dtype=float)
    if tr.ndim != 2 or y.ndim != 2 or tr.shape[1] != y.shape[1] or not len(tr):
        raise GalmassError(f"label_outside_fraction: label arrays of shapes {tr.shape} and {y.shape} "
                           f"do not match")
    lo, hi = np.percentile(tr, percentiles, axis=0)
    if not len(y):
        return float("nan")
    return float(np.mean(np.any((y < lo) | (y > hi), axis=1)))


def galaxy_labels(labels: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Mean label vector of each galaxy (rows in sorted order of the distinct ``groups``)."""
    y = np.asarray(labels, dtype=float)
    uniq, inv = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    out = np.zeros((len(uniq), y.shape[1]))
    np.add.at(out, inv.reshape(-1), y)
    return out / np.bincount(inv.reshape(-1), minlength=len(uniq))[:, None]


def nn_label_distance(train_labels: np.ndarray, train_groups: Sequence[str], labels: np.ndarray,
                      groups: Sequence[str]) -> dict[str, float]:
    """Median nearest-neighbour label distance [dex] of a set's galaxies to the training
    galaxies (``set``) and of the training galaxies to each other (``train``), and their ratio."""
    tr = galaxy_labels(train_labels, train_groups)
    ev = galaxy_labels(labels, groups)
    if len(tr) < 2 or not len(ev):
        raise GalmassError(f"nn_label_distance: need >= 2 training galaxies and >= 1 evaluation galaxy, "
                           f"got {len(tr)} and {len(ev)}")
    tree = cKDTree(tr)
    d_set = tree.query(ev, k=1)[0]
    d_train = tree.query(tr, k=2)[0][:, 1]
    out = {"set": float(np.median(d_set)), "train": float(np.median(d_train))}
    out["ratio"] = out["set"] / out["train"] if out["train"] > 0 else float("inf")
    return out


def transfer_verdict(diag: dict) -> str:
    """One sentence on what a test set's ``metrics.json`` ``transfer`` entry says."""
    inside = (diag["nn_label_distance_ratio"] < INTERPOLATION_RATIO
              and diag["label_outside_fraction"] < INTERPOLATION_OUTSIDE)
    what = ("they sit among the training galaxies, so its Table 1 column measures interpolation, "
            "not transfer" if inside else
            "they lie apart from the training galaxies, so its Table 1 column measures transfer")
    return (f"{100 * diag['label_outside_fraction']:.1f}% of its projections have labels outside the "
            f"training range and its galaxies are {diag['nn_label_distance_ratio']:.2f} times as far from "
            f"the nearest training galaxy as training galaxies are from each other: {what}")
