"""How real do the mock suites look? Shapes, rotation, scatter and sizes against real dwarfs.

Issue #18 asks the embedded universe to be as hard as real galaxies. :func:`realism_summary`
measures, per galaxy, what an observer would see along ``n_los`` lines of sight (all stars,
exact velocities): the projected half-number radius ``r_half`` [kpc], ``sigma_los`` [km/s],
the projected ellipticity, the spread of ``log10(R_h sigma_los^2)`` over the lines of sight,
and each literature estimator's ``M_est / M_true``. :func:`realism_checks` turns it into the
issue's numbers, beside the Milky Way dwarfs of the Local Volume Database (Pace et al.) where
they are given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.observe.estimators import ESTIMATORS, apply_all
from galmass.observe.projection import fibonacci_directions, r_half_projected, rotation_to, sigma_los
from galmass.sources.galaxy import Galaxy
from galmass.sources.shapes import axis_ratios, projected_ellipticity, rotation_support

__all__ = ["realism_summary", "realism_checks", "stellar_fraction", "matched_ratios", "sigma_percentiles", "cold_tail",
           "read_lvdb_table", "read_lvdb_dwarfs", "REALISM_TARGETS", "LVDB_RELATIVE_PATH", "DWARF_WINDOW",
           "ULTRAFAINT_WINDOW", "COLD_TAIL"]

#: Where the Local Volume Database's Milky Way dwarfs sit in the external data directory.
LVDB_RELATIVE_PATH = Path("observed") / "local_volume_database" / "dwarf_mw.csv"

#: The issue's acceptance ranges (#18, acceptance 1), in one place.
REALISM_TARGETS = {
    "estimator_halfwidth": (0.2, 0.35),  # 16-84% half-width of M_est/M_true (paper: 0.26-0.30)
    "los_spread_median_min": 0.04,  # dex, median per-galaxy spread of log10(R_h sigma^2)
    "stars_c_over_a_median_max": 0.75,
    "stars_c_over_a_span": (0.35, 0.95),  # "spanning 0.3-1": smallest <= 0.35, largest >= 0.95
    "ellipticity_median_min": 0.25,
    "v_rot_over_sigma_max_min": 0.5,
    "r_half_factor": 1.5,  # median R_h within this factor of the MW dwarfs' (M* 1e6-1e7.5)
    "sigma_fraction": 0.3,  # median sigma within 30% of the MW dwarfs'
    # median stellar share of the mass within the half-light radius, (M*/2) / M_Wolf, within
    # this factor of the MW dwarfs' (only 5 of them at M* 1e6-1e7.5, hence the loose factor)
    "stellar_fraction_factor": 2.0,
}

#: Stellar-mass window [log10 Msun] of the size and dispersion comparison.
DWARF_WINDOW = (6.0, 7.5)
#: Ultra-faint window [log10 Msun]: the same comparison at matched M*, reported without a
#: target (issue #19's 20-100-star catalogues are of such galaxies).
ULTRAFAINT_WINDOW = (3.5, 5.5)


def realism_summary(galaxies: list[Galaxy], n_los: int = 8) -> dict[str, np.ndarray]:
    """Per-galaxy observables over ``n_los`` Fibonacci lines of sight (all stars).

    Returns arrays over galaxies: ``log_mstar``, ``r_half`` and ``sigma_los`` (medians over
    lines of sight) [kpc, km/s], ``ellipticity`` (median), ``los_spread`` (std over lines of
    sight of ``log10(R_h sigma^2)`` [dex]), ``stars_c_over_a`` and ``v_rot_over_sigma`` about
    the short axis (3-D, within two 3-D half-mass radii), and ``ratio_<estimator>`` of shape (galaxies, n_los): M_est / M_true.
    """
    if not galaxies:
        raise GalmassError("realism_summary: no galaxies")
    dirs = fibonacci_directions(int(n_los))
    out: dict[str, list] = {k: [] for k in ("log_mstar", "r_half", "sigma_los", "ellipticity", "los_spread",
                                            "stars_c_over_a", "v_rot_over_sigma")}
    ratios: dict[str, list] = {name: [] for name in ESTIMATORS}
    for g in galaxies:
        rh, sg, ell, rat = [], [], [], {name: [] for name in ESTIMATORS}
        for d in dirs:
            rot = rotation_to(d)
            p = g.star_pos @ rot.T
            v = g.star_vel @ rot.T
            R = np.hypot(p[:, 0], p[:, 1])
            r_h = r_half_projected(p[:, 0], p[:, 1])
            rh.append(r_h)
            sg.append(sigma_los(v[:, 2]))
            ell.append(projected_ellipticity(p[:, 0], p[:, 1]))
            for name, (r_est, m_est) in apply_all(R, v[:, 2], r_h).items():
                rat[name].append(m_est / float(g.enclosed_mass(r_est)))
        rh, sg = np.array(rh), np.array(sg)
        out["log_mstar"].append(np.log10(g.stellar_mass))
        out["r_half"].append(np.median(rh))
        out["sigma_los"].append(np.median(sg))
        out["ellipticity"].append(np.median(ell))
        out["los_spread"].append(np.std(np.log10(rh * sg**2)))
        r3 = 2.0 * float(g.meta.get("r_half_3d", np.median(np.linalg.norm(g.star_pos, axis=1))))
        _, ca, axes = axis_ratios(g.star_pos, r3)
        out["stars_c_over_a"].append(ca)
        out["v_rot_over_sigma"].append(abs(rotation_support(g.star_pos, g.star_vel, axes[:, 2], r3)))
        for name in ESTIMATORS:
            ratios[name].append(rat[name])
    res = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    res.update({f"ratio_{k}": np.asarray(v, dtype=float) for k, v in ratios.items()})
    return res


def read_lvdb_table(path: str | Path):
    """The Local Volume Database file ``path`` (e.g. ``dwarf_mw.csv``) as an astropy Table."""
    from astropy.table import Table

    try:
        return Table.read(Path(path), format="ascii.csv")
    except (OSError, ValueError) as exc:
        raise GalmassError(f"cannot read the Local Volume Database {path}: {exc}") from None


def read_lvdb_dwarfs(path: str | Path) -> dict[str, np.ndarray]:
    """``log_mstar``, ``r_half`` [kpc], ``sigma_los`` [km/s] and ``ellipticity`` of the
    confirmed Milky Way dwarf galaxies in the Local Volume Database file ``path``."""
    from astropy.table import MaskedColumn

    t = read_lvdb_table(path)

    def col(name: str) -> np.ndarray:
        c = t[name]
        return np.array(c.filled(np.nan) if isinstance(c, MaskedColumn) else c, dtype=float)

    ok = col("confirmed_galaxy") == 1
    sigma = col("vlos_sigma")[ok]
    rel_err = 0.5 * (col("vlos_sigma_em")[ok] + col("vlos_sigma_ep")[ok]) / sigma
    rel_err[np.isfinite(col("vlos_sigma_ul")[ok])] = np.nan  # an upper limit is not a measurement
    return {"log_mstar": col("mass_stellar")[ok], "r_half": col("rhalf_sph_physical")[ok] / 1e3,
            "sigma_los": sigma, "sigma_los_rel_err": rel_err, "ellipticity": col("ellipticity")[ok]}


def _halfwidth(ratio: np.ndarray) -> float:
    r = np.asarray(ratio, dtype=float).ravel()
    r = r[np.isfinite(r) & (r > 0)]
    if not len(r):
        return float("nan")
    lo, hi = np.percentile(r, [16, 84])
    return float(0.5 * (hi - lo))


def _within_factor(ratio: float, factor: float) -> bool:
    return bool(1 / factor <= ratio <= factor)


def stellar_fraction(log_mstar: np.ndarray, r_half: np.ndarray, sigma_los: np.ndarray) -> np.ndarray:
    """Stellar share of the mass within the 3-D half-light radius, (M*/2) / M_Wolf.

    ``M_Wolf = 4 sigma_los^2 R_h / G`` (Wolf et al. 2010) from ``r_half`` [kpc, projected] and
    ``sigma_los`` [km/s]; ``log_mstar`` [log10 Msun]. The same estimate on mocks and on real
    dwarfs, so that its biases cancel in the comparison. Dimensionless.
    """
    m_wolf = 4.0 * np.asarray(sigma_los, float) ** 2 * np.asarray(r_half, float) / G
    return 0.5 * 10.0 ** np.asarray(log_mstar, float) / m_wolf


#: Half-width [dex in M*] of the mock galaxies matched to one real dwarf, and the fewest that make a match.
MATCH_HALF_WIDTH, MATCH_MIN_MOCKS = 0.25, 5


def matched_ratios(summary: dict[str, np.ndarray], lvdb: dict[str, np.ndarray],
                   window: tuple[float, float] = DWARF_WINDOW) -> dict[str, Any]:
    """Mock / real ``sigma_los``, ``r_half`` and :func:`stellar_fraction` at matched stellar mass.

    Each Local Volume Database dwarf in ``window`` [log10 M*] is compared with the median of
    the mock galaxies within :data:`MATCH_HALF_WIDTH` dex of its M* (at least
    :data:`MATCH_MIN_MOCKS` of them); the ratios' medians over the dwarfs are returned. Unlike
    the window medians, this does not depend on how the galaxies are spread in M* within the
    window (the mocks have more near its top than the Milky Way has). Keys ``n_matched``,
    ``matched_sigma_ratio``, ``matched_r_half_ratio``, ``matched_stellar_fraction_ratio``.
    """
    fs = stellar_fraction(summary["log_mstar"], summary["r_half"], summary["sigma_los"])
    lfs = stellar_fraction(lvdb["log_mstar"], lvdb["r_half"], lvdb["sigma_los"])
    ratios: dict[str, list[float]] = {"sigma": [], "r_half": [], "stellar_fraction": []}
    for i in np.flatnonzero((lvdb["log_mstar"] >= window[0]) & (lvdb["log_mstar"] <= window[1])):
        if not (np.isfinite(lvdb["sigma_los"][i]) and np.isfinite(lvdb["r_half"][i])):
            continue
        near = np.abs(summary["log_mstar"] - lvdb["log_mstar"][i]) <= MATCH_HALF_WIDTH
        if near.sum() < MATCH_MIN_MOCKS:
            continue
        ratios["sigma"].append(np.median(summary["sigma_los"][near]) / lvdb["sigma_los"][i])
        ratios["r_half"].append(np.median(summary["r_half"][near]) / lvdb["r_half"][i])
        ratios["stellar_fraction"].append(np.median(fs[near]) / lfs[i])
    out: dict[str, Any] = {"n_matched": len(ratios["sigma"])}
    for k, v in ratios.items():
        out[f"matched_{k}_ratio"] = float(np.median(v)) if v else float("nan")
    return out


#: The cold-tail check (:func:`cold_tail`): Milky Way dwarfs up to M* = 10^max_log_mstar Msun
#: whose sigma_los is measured to ``max_rel_err`` (no upper limits), each compared with the
#: mocks whose R_h lies within ``match_dex`` of its own (at least ``min_mocks``); a dwarf is in
#: the cold (hot) tail when its sigma lies below (above) the mocks' ``tail`` (1 - ``tail``) quantile.
COLD_TAIL = {"max_log_mstar": DWARF_WINDOW[1], "max_rel_err": 0.3, "match_dex": 0.15, "min_mocks": 10, "tail": 0.05}


def sigma_percentiles(summary: dict[str, np.ndarray], lvdb: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Where each well-measured Milky Way dwarf's sigma_los falls among mocks of the same R_h.

    The percentile of dwarf i is the probability that a mock of its R_h (within
    ``COLD_TAIL["match_dex"]``), observed with the dwarf's relative error e_i, shows a lower
    dispersion: the mean over those mocks of Phi((sigma_i - sigma_m) / (e_i sigma_m)). If the
    dwarfs were drawn from the mocks' universe, the percentiles would be uniform on [0, 1].

    Returns ``index`` (into ``lvdb``), ``percentile`` and ``n_mocks``.
    """
    from scipy.special import ndtr

    c = COLD_TAIL
    rel = lvdb.get("sigma_los_rel_err", np.full(len(lvdb["sigma_los"]), np.nan))
    keep = (np.isfinite(lvdb["sigma_los"]) & np.isfinite(lvdb["r_half"]) & (lvdb["r_half"] > 0)
            & (lvdb["log_mstar"] <= c["max_log_mstar"]) & (rel > 0) & (rel <= c["max_rel_err"]))
    log_r = np.log10(summary["r_half"])
    idx, pct, n = [], [], []
    for i in np.flatnonzero(keep):
        near = np.abs(log_r - np.log10(lvdb["r_half"][i])) <= c["match_dex"]
        if near.sum() < c["min_mocks"]:
            continue
        sm = summary["sigma_los"][near]
        idx.append(i)
        pct.append(float(np.mean(ndtr((lvdb["sigma_los"][i] - sm) / (rel[i] * sm)))))
        n.append(int(near.sum()))
    return {"index": np.array(idx, dtype=int), "percentile": np.array(pct), "n_mocks": np.array(n, dtype=int)}


def cold_tail(summary: dict[str, np.ndarray], lvdb: dict[str, np.ndarray]) -> dict[str, Any]:
    """Are the real dwarfs colder than the mocks of the same size? (:func:`sigma_percentiles`)

    Keys ``cold_n_dwarfs``; ``cold_tail_fraction`` and ``hot_tail_fraction``, the shares of
    dwarfs below the mocks' ``COLD_TAIL["tail"]`` quantile and above 1 minus it (a fair
    universe gives ``tail`` each, up to the noise of a few dozen dwarfs);
    ``sigma_percentile_median`` (0.5 for a fair universe). A universe whose halos are all too
    dense inside R_h puts many dwarfs in the cold tail, and a network trained on it reads a low
    sigma as a projection effect rather than a light galaxy.
    """
    p = sigma_percentiles(summary, lvdb)["percentile"]
    t = COLD_TAIL["tail"]
    nan = float("nan")
    return {"cold_n_dwarfs": int(len(p)), "cold_tail_fraction": float(np.mean(p < t)) if len(p) else nan,
            "hot_tail_fraction": float(np.mean(p > 1 - t)) if len(p) else nan,
            "sigma_percentile_median": float(np.median(p)) if len(p) else nan}


def realism_checks(summary: dict[str, np.ndarray], lvdb: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The issue's realism numbers of one suite (from :func:`realism_summary`) and whether each
    lies in its target range (:data:`REALISM_TARGETS`); ``lvdb`` from :func:`read_lvdb_dwarfs`."""
    t = REALISM_TARGETS
    out: dict[str, Any] = {}
    for name in ESTIMATORS:
        out[f"halfwidth_{name}"] = _halfwidth(summary[f"ratio_{name}"])
    hw = [out[f"halfwidth_{n}"] for n in ESTIMATORS]
    out["halfwidth_ok"] = bool(all(t["estimator_halfwidth"][0] <= h <= t["estimator_halfwidth"][1] for h in hw))
    out["los_spread_median"] = float(np.median(summary["los_spread"]))
    out["los_spread_ok"] = out["los_spread_median"] >= t["los_spread_median_min"]
    ca = summary["stars_c_over_a"]
    out["stars_c_over_a_p5_p50_p95"] = [float(x) for x in np.nanpercentile(ca, [5, 50, 95])] if np.isfinite(ca).any() else [np.nan] * 3
    lo, hi = t["stars_c_over_a_span"]
    out["stars_c_over_a_ok"] = bool(np.isfinite(ca).any() and np.nanmedian(ca) <= t["stars_c_over_a_median_max"]
                                    and np.nanmin(ca) <= lo and np.nanmax(ca) >= hi)
    out["ellipticity_median"] = float(np.median(summary["ellipticity"]))
    out["ellipticity_ok"] = out["ellipticity_median"] >= t["ellipticity_median_min"]
    vr = summary["v_rot_over_sigma"]
    out["v_rot_over_sigma_max"] = float(np.nanmax(vr)) if np.isfinite(vr).any() else float("nan")
    out["v_rot_ok"] = bool(out["v_rot_over_sigma_max"] >= t["v_rot_over_sigma_max_min"])
    w = (summary["log_mstar"] >= DWARF_WINDOW[0]) & (summary["log_mstar"] <= DWARF_WINDOW[1])
    out["n_dwarfs"] = int(w.sum())
    out["r_half_median"] = float(np.median(summary["r_half"][w])) if w.any() else float("nan")
    out["sigma_median"] = float(np.median(summary["sigma_los"][w])) if w.any() else float("nan")
    fs = stellar_fraction(summary["log_mstar"], summary["r_half"], summary["sigma_los"])
    out["stellar_fraction_median"] = float(np.median(fs[w])) if w.any() else float("nan")
    if lvdb is not None:
        lw = (lvdb["log_mstar"] >= DWARF_WINDOW[0]) & (lvdb["log_mstar"] <= DWARF_WINDOW[1])
        out["lvdb_r_half_median"] = float(np.nanmedian(lvdb["r_half"][lw]))
        out["lvdb_sigma_median"] = float(np.nanmedian(lvdb["sigma_los"][lw]))
        out["lvdb_ellipticity_median"] = float(np.nanmedian(lvdb["ellipticity"]))
        ratio = out["r_half_median"] / out["lvdb_r_half_median"]
        out["r_half_ok"] = _within_factor(ratio, t["r_half_factor"])
        out["sigma_ok"] = bool(abs(out["sigma_median"] / out["lvdb_sigma_median"] - 1) <= t["sigma_fraction"])
        lf = stellar_fraction(lvdb["log_mstar"][lw], lvdb["r_half"][lw], lvdb["sigma_los"][lw])
        out["lvdb_stellar_fraction_median"] = float(np.nanmedian(lf))
        out["stellar_fraction_ok"] = _within_factor(out["stellar_fraction_median"] / out["lvdb_stellar_fraction_median"],
                                                    t["stellar_fraction_factor"])
        out.update(matched_ratios(summary, lvdb))
        uf = matched_ratios(summary, lvdb, window=ULTRAFAINT_WINDOW)
        out.update({f"ultrafaint_{k}": v for k, v in uf.items()})
        lo, hi = ULTRAFAINT_WINDOW
        out["ultrafaint_fraction"] = float(np.mean((summary["log_mstar"] >= lo) & (summary["log_mstar"] <= hi)))
        out.update(cold_tail(summary, lvdb))
        out["matched_ok"] = bool(out["n_matched"] > 0 and abs(out["matched_sigma_ratio"] - 1) <= t["sigma_fraction"]
                                 and _within_factor(out["matched_r_half_ratio"], t["r_half_factor"])
                                 and _within_factor(out["matched_stellar_fraction_ratio"], t["stellar_fraction_factor"]))
    return out
