"""The posterior mass profile of one catalogue: its network inputs (made by :func:`galmass.observe.inputs.make_inputs`, as in training), the model and :func:`predict`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.inputs import make_inputs
from galmass.observe.projection import subsample_indices
from galmass.predict.catalogue import Catalog, MIN_N_SAMPLES, N_MAX_SAMPLE, RH_RANGE_KPC, TRAINING_MIN_STARS
from galmass.predict.readers import read_catalog


# --------------------------------------------------------------------------- network inputs
def prepare_inputs(catalog: Catalog, map_size: int, *, v_sys: str | float = "mean",
                   kde_bandwidth: str = "paper", n_max_sample: int = N_MAX_SAMPLE,
                   seed: int = 0, membership_weights: bool = False) -> dict[str, Any]:
    """Sub-sample, remove the systemic velocity, check and make the inputs of a catalogue.

    With ``membership_weights`` the stars are weighted by the catalogue's ``p_member`` in
    every input (:func:`galmass.observe.inputs.make_inputs`), as in a training set built
    with ``dataset.membership_weights``; without ``p_member`` it changes nothing.

    Returns the :func:`galmass.observe.inputs.make_inputs` dict of the one projection
    (maps, error-corrected scalars, ``R``, ``bandwidth_points``), plus ``x, y, v`` (the stars used), ``v_err``,
    ``r_half``, ``sigma_los``, ``sigma_los_obs``, ``v_p98``, ``v_p98_obs``, ``v_sys``,
    ``v_err_rms``, ``n_stars``, ``n_catalogue``.
    """
    name = catalog.name
    n = catalog.n_stars
    # = projection.subsample_size(n, 200, n_max_sample) for n >= 200, drawn as in training
    idx = subsample_indices(n, min(n, int(n_max_sample)), np.random.default_rng(seed))
    x, y, v_raw = catalog.x[idx], catalog.y[idx], catalog.v_los[idx]
    v_err = None if catalog.v_err is None else catalog.v_err[idx]
    w = catalog.weights[idx]
    if isinstance(v_sys, str):
        if v_sys == "mean":
            vs = float(np.mean(v_raw))
        elif v_sys == "weighted":
            vs = float(np.average(v_raw, weights=w))
        elif v_sys == "median":
            vs = float(np.median(v_raw))
        else:
            raise GalmassError(f"v_sys must be 'mean', 'weighted', 'median' or a number, got {v_sys!r}")
    else:
        vs = float(v_sys)
        if not math.isfinite(vs):
            raise GalmassError(f"v_sys must be finite, got {v_sys!r}")
    v = v_raw - vs

    rh = float(np.median(np.hypot(x, y)))
    if not RH_RANGE_KPC[0] <= rh <= RH_RANGE_KPC[1]:
        if catalog.meta.get("positions") == "sky":
            hint = f"check that the distance ({catalog.meta.get('distance_kpc')}) is in kpc"
        else:
            hint = ("positions look like degrees/arcmin (or pc), not kpc; give ra/dec with "
                    "--distance")
        raise GalmassError(f"{name}: R_h = {rh:.3g} kpc is implausible for a dispersion-supported "
                           f"galaxy (expected {RH_RANGE_KPC[0]:g}-{RH_RANGE_KPC[1]:g} kpc): {hint}")
    if not np.ptp(v_raw) > 1e-12 * max(1.0, float(np.max(np.abs(v_raw)))):
        raise GalmassError(f"{name}: zero line-of-sight velocity dispersion (all {len(v)} velocities "
                           f"are equal); v_los must be the stars' measured velocities")
    weights = [w] if membership_weights and catalog.p_member is not None else None
    out = make_inputs([x], [y], [v], map_size, v_err=[v_err], kde_bandwidth=kde_bandwidth, name=name,
                      weights=weights)
    r_half, sig, vp = (float(s) for s in out["scalars"][0])
    sig_obs, vp_obs = float(out["sigma_los_obs"][0]), float(out["v_p98_obs"][0])
    err_rms = None if v_err is None else math.sqrt(float(np.mean(v_err ** 2)))
    out.update(R=out["R"][0], bandwidth_points=None if out["bandwidth_points"] is None else out["bandwidth_points"][0],
               x=x, y=y, v=v, v_err=v_err, r_half=r_half, sigma_los=sig, sigma_los_obs=sig_obs,
               v_p98=vp, v_p98_obs=vp_obs, v_sys=vs, v_err_rms=err_rms, n_stars=len(v),
               n_catalogue=n)
    return out


def _estimators(R: np.ndarray, v: np.ndarray, r_half: float, v_err: np.ndarray | None) -> dict[str, list[float]]:
    """Literature estimators: name -> [radius kpc, log10 M]; errors subtracted from each variance.

    :func:`galmass.observe.estimators.apply_all` with ``v_err`` (as in training with errors); an
    estimator that cannot be applied (e.g. fewer than 2 stars in its aperture) gives NaN.
    """
    from galmass.observe.estimators import ESTIMATORS, apply_all

    res: dict[str, list[float]] = {}
    for key, est in ESTIMATORS.items():
        try:
            r, mass = apply_all(R, v, r_half, names=[key], v_err=v_err)[key]
        except GalmassError:
            r, mass = float(est.radius(r_half)), float("nan")
        res[key] = [float(r), math.log10(mass) if mass > 0 else float("nan")]
    return res


# --------------------------------------------------------------------------- model and posterior
def load_model(model: Any = None):
    """A :class:`~galmass.inference.model.MassModel`: as given, loaded from a directory, or the shipped default.

    ``None`` loads ``galmass/default_model/`` inside the installed package; if it is absent,
    a :class:`GalmassError` says so. A directory is loaded with the numpy backend when it
    has ``weights.npz`` (prediction then never imports torch), else with torch.
    """
    from galmass.inference.model import MassModel
    from galmass.predict.ensemble import EnsembleModel

    if isinstance(model, (MassModel, EnsembleModel)):
        return model
    if model is None:
        from importlib import resources

        ref = resources.files("galmass") / "default_model"
        if not any((ref / f).is_file() for f in ("model.json", "ensemble.json")):
            raise GalmassError("no default model is installed (galmass/default_model is missing; "
                               "`make default-model` builds it); pass --model DIR (model=...)")
        with resources.as_file(ref) as d:
            return _load_dir(Path(d))
    if isinstance(model, (str, Path)):
        d = Path(model)
        if not d.is_dir():
            raise GalmassError(f"model directory {d} does not exist")
        return _load_dir(d)
    raise GalmassError(f"model must be a MassModel, a directory or None, got {type(model).__name__}")


def _load_dir(d: Path):
    """A model directory, or an ensemble of them (:mod:`galmass.predict.ensemble`), numpy backend when it can."""
    from galmass.inference.model import MassModel
    from galmass.predict.ensemble import ENSEMBLE_FILE, EnsembleModel

    if (d / ENSEMBLE_FILE).is_file():
        return EnsembleModel.load(d, backend="auto")
    return MassModel.load(d, backend="auto")


def training_preprocessing(model) -> dict[str, Any]:
    """How the model's training projections were made, for the same preprocessing at prediction.

    Returns ``kde_bandwidth``, ``n_max_sample`` (the largest training projection; bigger
    catalogues are sub-sampled to it), ``min_stars`` (the smallest training projection),
    ``v_err_range`` [km/s] or None, ``membership_weights`` (the training weighted its stars
    by ``p_member`` instead of cutting). Models saved before these were recorded get the
    defaults of :class:`galmass.config.DatasetConfig`.
    """
    d = dict((model.info or {}).get("dataset") or {})
    n_range = d.get("n_sample_range")
    return {"kde_bandwidth": d.get("kde_bandwidth", "paper"),
            "n_max_sample": int(n_range[1]) if n_range else int(d.get("n_max_sample", N_MAX_SAMPLE)),
            "min_stars": int(n_range[0]) if n_range else int(d.get("min_stars", TRAINING_MIN_STARS)),
            "v_err_range": d.get("v_err_range"), "membership_weights": bool(d.get("membership_weights", False))}


def predict(catalog: Any, model: Any = None, n_samples: int = 1000, seed: int = 0, *,
            v_sys: str | float | None = None, kde_bandwidth: str | None = None,
            n_max_sample: int | None = None, num_threads: int | None = 1,
            membership_weights: bool | None = None, return_samples: bool = False):
    """Posterior mass profile of a galaxy from its stars.

    Parameters
    ----------
    catalog : Catalog, path, astropy Table or dict
        The stars (anything else than a :class:`Catalog` goes through :func:`read_catalog`
        with its defaults).
    model : MassModel, path or None
        The model (None: the default model shipped with galmass).
    n_samples : int
        Posterior samples drawn from the flow, at least :data:`MIN_N_SAMPLES` (100).
    seed : int
        Seed of the flow samples (and of the sub-sample of catalogues > 10,000 stars).
    v_sys, kde_bandwidth, n_max_sample, membership_weights
        See :func:`prepare_inputs`. None (default): the model's training settings
        (:func:`training_preprocessing`); ``v_sys`` then is ``"weighted"`` with membership
        weights and ``"mean"`` otherwise.
    return_samples : bool
        Also return the posterior samples, an array (n_samples, n_radii) of log10 M(< f R_h)
        [Msun] (the table's radii in the same order).
    num_threads : int or None
        Torch threads for a model on the torch backend, restored afterwards (None: leave
        torch's setting; the numpy backend ignores it). One catalogue is too little work to gain from more threads, and with several
        threads on busy cores torch slows down badly (measured on 2 busy cores: 2.8 s with
        2 threads, 0.02 s with 1).

    Returns
    -------
    astropy.table.Table
        One row per radius: ``f``, ``r_kpc`` (= f R_h), ``log10_m_p2_5``, ``log10_m_p16``,
        ``log10_m_p50``, ``log10_m_p84``, ``log10_m_p97_5`` (percentiles of log10 M(< r)
        [Msun]: the 68% and 95% bands and the median). ``meta``: ``R_h`` [kpc],
        ``sigma_los`` [km/s, intrinsic], ``v_p98`` [km/s], ``n_stars``, ``estimators``
        (name -> [radius kpc, log10 M]), ``ood`` (bool), ``ood_reason`` (str; empty when
        inside), and provenance (``sigma_los_obs``, ``v_p98_obs``, ``v_sys``, ``v_err_rms``,
        ``catalogue``, ``catalogue_path`` (the file read, or None), ``centre``,
        ``distance_kpc``, ``n_dropped_duplicates``, ``model``, ``n_samples``, ``seed``);
        ``members`` (an ensemble, :mod:`galmass.predict.ensemble`: ``names``,
        ``disagreement`` D, ``threshold``, each member's ``median_at_r_half`` [log10 Msun];
        None for a single model). ``ood`` is set when the scalars fall outside the model's
        training domain (``model.domain``, Appendix C), the catalogue has fewer stars than
        any training projection, or an ensemble's members disagree beyond its threshold.
    """
    from astropy.table import Table

    check_n_samples(n_samples)
    if not isinstance(catalog, Catalog):
        catalog = read_catalog(catalog)
    mdl = load_model(model)
    prep = training_preprocessing(mdl)
    kde_bandwidth = prep["kde_bandwidth"] if kde_bandwidth is None else kde_bandwidth
    n_max_sample = prep["n_max_sample"] if n_max_sample is None else n_max_sample
    weighted = prep["membership_weights"] if membership_weights is None else bool(membership_weights)
    v_sys = ("weighted" if weighted else "mean") if v_sys is None else v_sys
    inp = prepare_inputs(catalog, mdl.map_size, v_sys=v_sys, kde_bandwidth=kde_bandwidth,
                         n_max_sample=n_max_sample, seed=seed, membership_weights=weighted)
    post = _run_model(mdl, inp, int(n_samples), seed, num_threads)
    f = np.asarray(mdl.radii_f, dtype=float)
    reasons = []
    if mdl.domain is not None:
        flags, why = mdl.domain.outside(inp["scalars"])
        if flags[0]:
            reasons.append(why[0])
        checked = True
    else:
        checked = False
    members = post["members"]
    if members is not None and mdl.flagged([members["disagreement"]])[0]:
        reasons.append(f"its {len(members['names'])} networks ({', '.join(members['names'])}) disagree: "
                       f"D = {members['disagreement']:.1f} (medians apart by that many combined 1-sigma "
                       f"widths, more than on 99% of validation projections: {members['threshold']:.1f})")
    if inp["n_stars"] < prep["min_stars"]:
        reasons.append(f"{inp['n_stars']} stars, fewer than any training projection ({prep['min_stars']})")
    import astropy.units as u

    t = Table()
    t["f"] = f
    t["r_kpc"] = f * inp["r_half"]
    for k, q in PERCENTILES.items():
        t[f"log10_m_{k}"] = np.asarray(post[k][0], dtype=float)
        t[f"log10_m_{k}"].unit = u.dex(u.Msun)
        t[f"log10_m_{k}"].description = f"{q:g}th percentile of the posterior of log10 M(< r) [Msun]"
    t["r_kpc"].unit = "kpc"
    t["f"].description = "radius in units of the projected half-number radius R_h"
    t["r_kpc"].description = "radius f R_h"
    model_dir = (str(model) if isinstance(model, (str, Path)) else
                 "default (galmass/default_model)" if model is None else "in memory")
    t.meta.update({
        "R_h": inp["r_half"], "sigma_los": inp["sigma_los"], "v_p98": inp["v_p98"],
        "n_stars": int(inp["n_stars"]),
        "estimators": _estimators(inp["R"], inp["v"], inp["r_half"], inp["v_err"]),
        "ood": bool(reasons), "ood_reason": "; ".join(reasons), "ood_checked": checked,
        "sigma_los_obs": inp["sigma_los_obs"], "v_p98_obs": inp["v_p98_obs"], "v_sys": inp["v_sys"],
        "v_err_rms": inp["v_err_rms"], "n_catalogue": int(inp["n_catalogue"]),
        "catalogue": catalog.name, "catalogue_path": catalog.meta.get("path"),
        "n_dropped_duplicates": int(catalog.meta.get("n_dropped_duplicates", 0)),
        "centre": _plain(catalog.meta.get("centre")),
        "membership": catalog.meta.get("membership", "catalogue p_member" if catalog.p_member is not None
                                       else "all stars members"),
        "distance_kpc": catalog.meta.get("distance_kpc"), "model": model_dir,
        "n_samples": int(n_samples), "seed": int(seed), "kde_bandwidth": kde_bandwidth,
        "membership_weights": bool(weighted and catalog.p_member is not None),
        "members": members,
        **_provenance(mdl, model, catalog, prep, v_sys, n_max_sample),
    })
    return (t, post["samples"]) if return_samples else t


#: Units of the scalar entries of a prediction's ``meta`` (written into the ECSV header as ``units``).
META_UNITS = {"R_h": "kpc", "sigma_los": "km / s", "v_p98": "km / s", "sigma_los_obs": "km / s",
              "v_p98_obs": "km / s", "v_sys": "km / s", "v_err_rms": "km / s", "distance_kpc": "kpc",
              "estimators": "[kpc, log10 Msun]"}


def _sha256(path: Path) -> str | None:
    import hashlib

    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def model_fingerprint(model: Any) -> str | None:
    """sha256 over the model directory's files (``model.json``, the weights, ``domain.json``;
    for an ensemble, ``ensemble.json`` and every member's), or None for a model object."""
    import hashlib

    from galmass.predict.ensemble import ENSEMBLE_FILE
    from galmass.predict.seen import model_directory

    d = model_directory(model)
    if d is None:
        return None
    files = ["model.json", "cnn.pt", "flow.pt", "weights.npz", "domain.json"]
    if (d / ENSEMBLE_FILE).is_file():
        files = [ENSEMBLE_FILE] + [f"members/{m.name}/{f}" for m in sorted((d / "members").iterdir()) for f in files]
    h = hashlib.sha256()
    for name in files:
        digest = _sha256(d / name)
        h.update(f"{name}:{digest}".encode())
    return h.hexdigest()


def _provenance(mdl, model: Any, catalog: Catalog, prep: dict, v_sys: Any, n_max_sample: int) -> dict[str, Any]:
    """Who made a prediction from what: galmass version, model, catalogue, preprocessing, date."""
    from datetime import datetime, timezone

    from galmass import __version__

    path = catalog.meta.get("path")
    info = mdl.info or {}
    return {"galmass_version": __version__, "model_fingerprint": model_fingerprint(model),
            "training_profile": info.get("profile"), "training_suites": (info.get("spec") or {}).get("suites"),
            "catalogue_sha256": _sha256(Path(path)) if path else None,
            "preprocessing": {"v_sys": v_sys, "n_max_sample": int(n_max_sample),
                              "p_member_min": catalog.meta.get("p_member_min"),
                              "centre_method": (catalog.meta.get("centre") or {}).get("method"),
                              "training_v_err_range": prep.get("v_err_range")},
            "units": dict(META_UNITS),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def check_n_samples(n_samples: Any, what: str = "n_samples") -> int:
    """``n_samples`` as an int, or one :class:`GalmassError` line unless it is an integer
    >= :data:`MIN_N_SAMPLES` (fewer samples give meaningless 16th/84th percentiles)."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise GalmassError(f"{what} must be an integer >= {MIN_N_SAMPLES}, got {n_samples!r}")
    if n_samples < MIN_N_SAMPLES:
        raise GalmassError(f"{what} = {n_samples} is too few for the 16th-84th percentiles of the "
                           f"posterior: use at least {MIN_N_SAMPLES} (--n-samples {MIN_N_SAMPLES}; "
                           f"1000 is the default)")
    return int(n_samples)


#: Posterior percentiles in a prediction table (column ``log10_m_<key>``): the median and the
#: 68% and 95% bands.
PERCENTILES = {"p2_5": 2.5, "p16": 16.0, "p50": 50.0, "p84": 84.0, "p97_5": 97.5}


def _run_model(mdl, inp: dict, n_samples: int, seed: int, num_threads: int | None) -> dict:
    """:data:`PERCENTILES` of the posterior samples, each (1, n_radii), and ``"samples"``
    (n_samples, n_radii) [log10 Msun]."""
    torch_threads = num_threads is not None and mdl.backend == "torch"
    if torch_threads:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(int(num_threads))
    try:
        args = (inp["map1"], inp["map2"], inp["scalars"])
        if hasattr(mdl, "sample_members"):  # an ensemble: also how far its members disagree
            from galmass.predict.ensemble import disagreement

            parts = mdl.sample_members(*args, n_samples=n_samples, seed=seed, n_stars=[inp["n_stars"]])
            s = mdl.combine(parts)
            d = float(disagreement(parts)[0])
            members = {"names": list(mdl.names), "posterior": mdl.posterior, "disagreement": d,
                       "threshold": mdl.threshold,
                       "median_at_r_half": [float(np.median(p[:, 0, _r_half_index(mdl.radii_f)])) for p in parts]}
        else:
            s = mdl.sample(*args, n_samples=n_samples, seed=seed, n_stars=[inp["n_stars"]])
            members = None
        out = dict(zip(PERCENTILES, np.percentile(s, list(PERCENTILES.values()), axis=0)))
        out["samples"] = np.asarray(s[:, 0, :], dtype=np.float64)
        out["members"] = members
        return out
    finally:
        if torch_threads:
            torch.set_num_threads(before)


def _r_half_index(radii_f) -> int:
    return int(np.argmin(np.abs(np.asarray(radii_f, dtype=float) - 1.0)))


def _plain(obj: Any) -> Any:
    """JSON/YAML-friendly copy (numpy scalars -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
