"""Balancing the training suites per bin of log10 M(<R_h) and splitting them by galaxy (Sect. 2.4)."""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

import numpy as np

from galmass.errors import GalmassError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- balance, splits
def _bin_of(values: np.ndarray, bins: int, rng_: tuple[float, float]) -> np.ndarray:
    """Bin number (0 .. bins-1) like ``numpy.histogram``; -1 outside ``[lo, hi]`` or NaN."""
    lo, hi = float(rng_[0]), float(rng_[1])
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, -1, dtype=np.int64)
    inside = (v >= lo) & (v <= hi)
    b = np.floor((v[inside] - lo) / (hi - lo) * bins).astype(np.int64)
    out[inside] = np.minimum(b, bins - 1)
    return out


def balance(log_mass: Sequence[float], suite: Sequence[str], training_suites: Iterable[str], *,
            bins: int = 30, range: tuple[float, float] = (7.5, 11.0), seed: int = 0,
            enabled: bool = True) -> np.ndarray:
    """Projections kept by the balancing of Sect. 2.4 (boolean mask).

    In each of ``bins`` equal bins of ``log_mass`` = log10 M(<R_h) [Msun] over ``range``
    (bin edges as ``numpy.histogram``), every training suite keeps the same number of
    projections: the smallest count among the training suites in that bin, chosen at
    random (``seed``); projections outside ``range`` are dropped. Projections of the other
    (held-out) suites are kept when inside ``range``, without balancing. With
    ``enabled=False`` everything is kept.

    Parameters
    ----------
    log_mass : array_like, shape (N,)
        log10 M(<R_h) of each projection.
    suite : array_like of str, shape (N,)
        Suite of each projection.
    training_suites : iterable of str
        Suites to balance against each other.
    bins, range, seed, enabled
        See above.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    log_mass = np.asarray(log_mass, dtype=float)
    suite = np.asarray(suite).astype(str)
    if log_mass.shape != suite.shape or log_mass.ndim != 1:
        raise GalmassError(f"balance: log_mass {log_mass.shape} and suite {suite.shape} must be "
                           f"1-D arrays of the same length")
    if not enabled:
        return np.ones(len(log_mass), dtype=bool)
    bins = int(bins)
    if bins < 1 or not float(range[0]) < float(range[1]):
        raise GalmassError(f"balance: need bins >= 1 and range (low, high) with low < high, "
                           f"got {bins}, {range}")
    b = _bin_of(log_mass, bins, range)
    training = sorted(set(training_suites))
    keep = (b >= 0) & ~np.isin(suite, training)
    if not training:
        return keep
    rng = np.random.default_rng([int(seed), 0xBA1A])
    members = {s: suite == s for s in training}
    for k in np.arange(bins):
        in_bin = b == k
        rows = {s: np.flatnonzero(in_bin & members[s]) for s in training}
        n_keep = min(len(r) for r in rows.values())
        for s in training:  # sorted order: the draws do not depend on the input order of suites
            r = rows[s]
            if n_keep:
                keep[r if len(r) == n_keep else rng.choice(r, size=n_keep, replace=False)] = True
    return keep


def galaxy_keys(suite: Sequence[str], galaxy_id: Sequence[str]) -> np.ndarray:
    """Ids unique across suites, ``"<suite>/<galaxy_id>"`` (array of str): the unit that the
    train/validation split keeps together and that calibration bootstraps resample."""
    return np.char.add(np.char.add(np.asarray(suite).astype(str), "/"), np.asarray(galaxy_id).astype(str))


def split_by_galaxy(galaxy_ids: Sequence[str], validation_fraction: float, seed: int = 0,
                    test_fraction: float = 0.0) -> np.ndarray:
    """Split labels ``"train"``, ``"validation"`` or ``"test"`` (object array, shape (N,)) with
    all projections of a galaxy on the same side.

    The distinct ids (sorted, then permuted with ``seed``) are dealt out in that order:
    the first ``round(validation_fraction * n_galaxies)`` validate (early stopping, learning
    rate schedule, model choice), the next ``round(test_fraction * n_galaxies)`` are test
    galaxies (every reported number) and the rest train. Ids must be unique across suites
    (e.g. ``"<suite>/<name>"``). With ``test_fraction = 0`` the validation galaxies are those
    of earlier galmass versions.
    """
    ids = np.asarray(galaxy_ids).astype(str)
    val, test = float(validation_fraction), float(test_fraction)
    if not (0.0 <= val < 1.0 and 0.0 <= test < 1.0 and val + test < 1.0):
        raise GalmassError(f"validation_fraction and test_fraction must be >= 0 with a sum below 1, "
                           f"got {validation_fraction!r} and {test_fraction!r}")
    uniq, inverse = np.unique(ids, return_inverse=True)
    n_val = int(round(val * len(uniq)))
    n_test = int(round(test * len(uniq)))
    order = np.random.default_rng([int(seed), 0x5B117]).permutation(len(uniq))
    label = np.full(len(uniq), "train", dtype=object)
    label[order[:n_val]] = "validation"
    label[order[n_val:n_val + n_test]] = "test"
    return label[inverse.reshape(-1)]
