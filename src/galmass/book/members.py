"""Chapter 7: an ensemble model and each of its members alone, on the checks where they differ.

The shipped model mixes a CNN that reads the absolute R_h, sigma_los and v_p98 with one that
sees only dimensionless inputs (:mod:`galmass.predict.ensemble`). :func:`member_comparison`
runs both alone and together on galaxies that are not mock-suite galaxies: the EDGE
simulated dwarfs, the Gaia Challenge 1000-star files, the same galaxies rescaled to
ultra-faint dispersions, and the nine Milky Way dwarfs against the Local Volume Database.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from galmass.book.dirty import binaries_summary, ultrafaint_binaries
from galmass.book.realdata import evaluate_edge, evaluate_gaia_challenge, predict_dwarfs
from galmass.errors import GalmassError
from galmass.predict import load_model
from galmass.predict.ensemble import EnsembleModel

__all__ = ["member_comparison"]


def member_comparison(model: Any = None, *, n_samples: int = 1000, seed: int = 0, n_cases: int = 40,
                      root: str | Path | None = None):
    """One row per model (the ensemble as shipped, its equal mixture, then each member alone):
    median offset [dex] of log10 M
    from the truth on the EDGE dwarfs (``edge_<dwarf>``, all lines of sight and radii) and the
    fraction of those inside the 68% band (``edge_in_68``); the median bias at f = 1 on the
    Gaia Challenge 1000-star files (``gaia_<model>``); the median bias at R_h of Gaia
    Challenge galaxies rescaled to sigma = 3-6 km/s with 1000 stars (``cold_1000``); the
    median |offset| from the Local Volume Database Wolf masses of the nine dwarfs
    (``dwarfs_abs``); and the fraction of those catalogues flagged (``flagged``: by the input
    domain, the star count, or, for the ensemble rows, the members' disagreement).

    ``model`` must be an ensemble (:class:`galmass.predict.ensemble.EnsembleModel` or its
    directory; None: the shipped model). Returns an astropy Table.
    """
    from astropy.table import Table

    ens = load_model(model)
    if not isinstance(ens, EnsembleModel):
        raise GalmassError("member_comparison needs an ensemble model (galmass.predict.ensemble)")
    rows = []
    models = [(f"shipped (posterior: {ens.posterior})", ens)]
    if ens.posterior != "mixture":
        models.append(("mixture", dataclasses.replace(ens, posterior="mixture")))
    for name, mdl in models + list(zip(ens.names, ens.members)):
        row: dict[str, Any] = {"model": name}
        flags = []
        e = evaluate_edge(mdl, n_samples=n_samples, seed=seed, root=root)
        off = np.asarray(e["log10_m_p50"]) - np.asarray(e["log10_m_true"])
        for dwarf in sorted(set(e["dwarf"])):
            row[f"edge_{dwarf}"] = float(np.median(off[np.asarray(e["dwarf"]) == dwarf]))
        row["edge_in_68"] = float(np.mean(e["inside_68"]))
        flags += list(np.asarray(e["ood"], bool)[np.asarray(e["f"]) == e["f"][0]])
        g = evaluate_gaia_challenge(mdl, n_stars=(1000,), n_samples=n_samples, seed=seed, root=root)
        at1 = np.abs(np.asarray(g["f"]) - 1.0) < 1e-6
        for gname in sorted(set(g["model"])):
            sel = at1 & (np.asarray(g["model"]) == gname)
            row[f"gaia_{gname}"] = float(np.median(np.asarray(g["log10_m_p50"])[sel] - np.asarray(g["log10_m_true"])[sel]))
        flags += list(np.asarray(g["ood"], bool)[at1])
        cold = ultrafaint_binaries(mdl, n_stars=1000, binary_fraction=0.0, n_cases=n_cases, n_samples=n_samples,
                                   seed=seed, root=root)
        row["cold_1000"] = float(binaries_summary(cold)[0]["model_median_bias_dex"])
        flags += list(np.asarray(cold["ood"], bool)[~np.asarray(cold["binaries"], bool)])
        dw = predict_dwarfs(mdl, n_samples=n_samples, seed=seed, root=root)[0]
        d = np.asarray(dw["log10_m_p50"], float) - np.asarray(dw["log10_m_wolf_lvdb"], float)
        row["dwarfs_abs"] = float(np.nanmedian(np.abs(d)))
        flags += list(np.asarray(dw["ood"], bool))
        row["flagged"] = float(np.mean(flags))
        rows.append(row)
    return Table(rows=rows)
