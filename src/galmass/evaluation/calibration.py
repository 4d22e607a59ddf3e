"""Posterior calibration: the TARP expected-coverage test and marginal coverage (Sect. 5.2, App. D).

TARP (Lemos et al. 2023, ICML, "Sampling-based accuracy testing of posterior estimators
for general inference"): for each test case ``i`` with truth ``theta_i`` and posterior
samples ``s_ij``, draw a reference point ``r_i`` uniformly in the label box; the
credibility of the truth is ``f_i = mean_j [d(s_ij, r_i) < d(theta_i, r_i)]`` and the
expected coverage probability is ``ECP(alpha) = mean_i [f_i < alpha]``. A calibrated
posterior gives ECP(alpha) = alpha; an overconfident (too narrow) one falls below the
diagonal at alpha > 0.5, an underconfident (too wide) one above it (``sbi``'s
``check_tarp`` reads the same half of the curve); the maximum deviation summarises it.

Choices (fixed, documented): labels and samples are normalised to the unit box by the test
set's per-dimension min/max; references are uniform in that box; the distance is
Euclidean; alpha runs over [0, 1]; the uncertainty band comes from bootstrap resamples of
the test cases. Inputs are never modified. (The PyPI ``tarp`` 0.1.1 bins alpha over
[min f, max f] and its bootstrap mutates its inputs; ``sbi``'s ``run_tarp`` also bins over
[min f, max f]: :func:`tarp_coverage` reproduces it on its own alpha grid.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from galmass.errors import GalmassError
from galmass.files import atomic_path

__all__ = ["TarpResult", "tarp_credibility", "tarp_coverage", "marginal_coverage",
           "posterior_uncertainty", "save_tarp", "load_tarp"]


@dataclass
class TarpResult:
    """ECP curve of a TARP test.

    Attributes
    ----------
    alpha : ndarray (n_alpha,)
        Credibility levels on [0, 1].
    ecp : ndarray (n_alpha,)
        Expected coverage probability of the full test set.
    ecp_median, ecp_lo, ecp_hi : ndarray (n_alpha,)
        Bootstrap median and 2-sigma (2.3/97.7 percentile) band.
    credibility : ndarray (n_cases,)
        ``f_i`` of every test case.
    bootstrap_max_deviation : ndarray (n_bootstrap,)
        max |ECP(alpha) - alpha| of each bootstrap resample (its spread is the
        uncertainty of :attr:`max_deviation`).
    n_groups : int
        Independent units resampled: the groups (e.g. galaxies), or the cases.
    """

    alpha: np.ndarray
    ecp: np.ndarray
    ecp_median: np.ndarray
    ecp_lo: np.ndarray
    ecp_hi: np.ndarray
    credibility: np.ndarray
    bootstrap_max_deviation: np.ndarray
    n_groups: int

    @property
    def max_deviation(self) -> float:
        """max |ECP(alpha) - alpha| of the bootstrap median curve."""
        return float(np.max(np.abs(self.ecp_median - self.alpha)))


def save_tarp(path: str | Path, result: TarpResult) -> Path:
    """Write a :class:`TarpResult` to an ``.npz`` file (atomically); returns its path."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{f.name: np.asarray(getattr(result, f.name)) for f in fields(TarpResult)})
    return path


def load_tarp(path: str | Path) -> TarpResult:
    """Read a :class:`TarpResult` written by :func:`save_tarp`."""
    path = Path(path)
    if not path.is_file():
        raise GalmassError(f"no TARP result at {path}: compute the metrics first (galmass evaluate)")
    with np.load(path) as z:
        missing = [f.name for f in fields(TarpResult) if f.name not in z.files]
        if missing:
            raise GalmassError(f"{path} is not a TARP result (missing {', '.join(missing)})")
        kw = {f.name: z[f.name] for f in fields(TarpResult)}
    kw["n_groups"] = int(kw["n_groups"])
    return TarpResult(**kw)


def _check(samples: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(samples, dtype=float)
    t = np.asarray(theta, dtype=float)
    if s.ndim != 3 or t.ndim != 2 or s.shape[1:] != t.shape:
        raise GalmassError(f"samples must be (n_samples, n_cases, n_dims) and theta (n_cases, n_dims); "
                           f"got {s.shape} and {t.shape}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise GalmassError("samples or theta contain NaN or infinite values")
    if t.shape[0] < 2:
        raise GalmassError("TARP needs at least 2 test cases")
    return s, t


def tarp_credibility(samples: np.ndarray, theta: np.ndarray, references: np.ndarray | None = None,
                     seed: int = 0, normalise: bool = True) -> np.ndarray:
    """TARP credibility ``f_i`` of each truth (n_cases,); see the module docstring.

    ``references`` (n_cases, n_dims) are given in label units; by default they are drawn
    uniformly in the test set's label box.
    """
    s, t = _check(samples, theta)
    lo, hi = t.min(axis=0), t.max(axis=0)
    if references is None:
        references = np.random.default_rng(seed).uniform(lo, hi, size=t.shape)
    r = np.asarray(references, dtype=float)
    if r.shape != t.shape:
        raise GalmassError(f"references must have shape {t.shape}, got {r.shape}")
    if normalise:
        scale = hi - lo + 1e-10
        s, t, r = (s - lo) / scale, (t - lo) / scale, (r - lo) / scale
    d_samples = np.sqrt(((s - r[None]) ** 2).sum(-1))
    d_truth = np.sqrt(((t - r) ** 2).sum(-1))
    return (d_samples < d_truth[None]).mean(axis=0)


def tarp_coverage(samples: np.ndarray, theta: np.ndarray, references: np.ndarray | None = None,
                  n_alpha: int = 101, n_bootstrap: int = 100, seed: int = 0,
                  alpha: np.ndarray | None = None, groups: np.ndarray | None = None) -> TarpResult:
    """The TARP ECP curve with a bootstrap band (``n_bootstrap`` resamples of the cases).

    ``groups`` (n_cases,), e.g. galaxy ids: resample whole groups instead of single cases.
    Projections of one galaxy share its mass profile, so their credibilities are correlated
    and a case bootstrap understates the scatter of the curve; a group bootstrap does not.
    """
    f = tarp_credibility(samples, theta, references, seed=seed)
    a = np.linspace(0.0, 1.0, n_alpha) if alpha is None else np.asarray(alpha, dtype=float)
    below = f[:, None] < a[None, :]  # (n_cases, n_alpha)
    ecp = below.mean(axis=0)
    rng = np.random.default_rng(seed + 1)
    if groups is None:
        inverse, n_groups = np.arange(len(f)), len(f)
    else:
        g = np.asarray(groups)
        if g.shape != f.shape:
            raise GalmassError(f"groups must have shape {f.shape}, got {g.shape}")
        _, inverse = np.unique(g, return_inverse=True)
        inverse = inverse.reshape(-1)
        n_groups = int(inverse.max()) + 1
    boots = np.empty((n_bootstrap, len(a)))
    for b in range(n_bootstrap):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[inverse]
        boots[b] = w @ below / w.sum()
    lo, med, hi = np.percentile(boots, [2.275, 50, 97.725], axis=0) if n_bootstrap else (ecp, ecp, ecp)
    dev = np.abs(boots - a).max(axis=1) if n_bootstrap else np.abs(ecp - a).max(keepdims=True)
    return TarpResult(a, ecp, med, lo, hi, f, dev, n_groups)


def marginal_coverage(samples: np.ndarray, theta: np.ndarray, n_alpha: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of central credible intervals per dimension (Fig. D.1).

    Returns ``alpha`` (n_alpha,) and ``ecp`` (n_alpha, n_dims): the fraction of cases whose
    truth lies inside the central ``alpha`` credible interval of that dimension's marginal.
    """
    s, t = _check(samples, theta)
    rank = (s < t[None]).mean(axis=0)  # (n_cases, n_dims)
    level = np.abs(2.0 * rank - 1.0)  # smallest central interval containing the truth
    a = np.linspace(0.0, 1.0, n_alpha)
    ecp = (level[None, :, :] <= a[:, None, None]).mean(axis=1)
    return a, ecp


def posterior_uncertainty(samples: np.ndarray) -> np.ndarray:
    """Half the 16-84 percentile range of each marginal (n_cases, n_dims) (Fig. D.2)."""
    p16, p84 = np.percentile(np.asarray(samples, dtype=float), [16, 84], axis=0)
    return (p84 - p16) / 2
