"""A model made of several trained models: its posterior is their equal mixture, or one
member's posterior checked by the others.

The model shipped with galmass has two members trained on the same mock galaxies: the
observed profile's, whose CNN reads the absolute R_h, sigma_los and v_p98 (and with them the
mock population's correlations of size and dispersion), and the ``observed_scale_free``
profile's, whose CNN sees only dimensionless inputs (``cnn.scale_free``). On galaxies like the
training ones they agree; on galaxies unlike them (measured in chapter 7: the EDGE dwarfs,
Gaia Challenge galaxies rescaled to ultra-faint dispersions) they can differ by more than
their bands. ``posterior`` says what a prediction is: ``"mixture"`` (the equal mixture,
whose band then spans both) or a member's name (that member's posterior; the others only
check it). Their disagreement is always reported:
``D`` = max over radii of |median_1 - median_2| / sqrt(w_1^2 + w_2^2) (w: half the 16-84%
range), flagged beyond ``threshold``, the 99th percentile of D on the validation projections
of the training suites (as the input domain flags the 1% least typical inputs).

Layout of an ensemble directory::

    ensemble.json       format, member names, the disagreement threshold, provenance
    members/<name>/     a model directory each (model.json, cnn.pt, flow.pt, weights.npz, ...)

``python -m galmass.predict.ensemble OUT POSTERIOR CONFIG CONFIG [...]`` assembles one from
the joint model of each profile (``make default-model``).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from galmass.errors import GalmassError
from galmass.files import atomic_write_json, read_json

__all__ = ["ENSEMBLE_FILE", "EnsembleModel", "disagreement", "assemble"]

#: The file that makes a directory an ensemble.
ENSEMBLE_FILE = "ensemble.json"
FORMAT_VERSION = 1
#: Percentile of the validation projections' disagreement above which a catalogue is flagged.
THRESHOLD_PERCENTILE = 99.0


def disagreement(samples: list[np.ndarray]) -> np.ndarray:
    """``D`` (N,) of members' samples, each (n_samples, N, n_radii): the largest over radii
    and member pairs of |median_i - median_j| / sqrt(w_i^2 + w_j^2), w half the 16-84% range [dex]."""
    stats = [np.percentile(s, [16, 50, 84], axis=0) for s in samples]
    d = np.zeros(samples[0].shape[1])
    for i in range(len(stats)):
        for j in range(i + 1, len(stats)):
            (lo_i, m_i, hi_i), (lo_j, m_j, hi_j) = stats[i], stats[j]
            w2 = (0.5 * (hi_i - lo_i)) ** 2 + (0.5 * (hi_j - lo_j)) ** 2
            d = np.maximum(d, np.max(np.abs(m_i - m_j) / np.sqrt(np.maximum(w2, 1e-12)), axis=1))
    return d


@dataclass
class EnsembleModel:
    """Trained models (:class:`~galmass.inference.model.MassModel`): their equal mixture, or
    one member's posterior checked by the others.

    Attributes
    ----------
    members : list of MassModel
        Same maps, radii and training preprocessing (checked).
    names : list of str
        Their names (training profiles).
    threshold : float or None
        Disagreement ``D`` above which a catalogue is flagged (None: never).
    posterior : str
        ``"mixture"`` or the name of the member whose posterior a prediction is.
    info : dict
        The first member's provenance, plus ``members``.
    """

    members: list
    names: list[str]
    threshold: float | None = None
    posterior: str = "mixture"
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.members) < 2 or len(self.names) != len(self.members):
            raise GalmassError("an ensemble needs at least two members, one name each")
        if self.posterior != "mixture" and self.posterior not in self.names:
            raise GalmassError(f"an ensemble's posterior must be 'mixture' or one of its members {self.names}, "
                               f"got {self.posterior!r}")
        first = self.members[0]
        for name, m in zip(self.names[1:], self.members[1:]):
            if m.map_size != first.map_size or not np.allclose(m.radii_f, first.radii_f):
                raise GalmassError(f"ensemble member {name!r} has other maps or radii than {self.names[0]!r}")
            if (m.info or {}).get("dataset") != (first.info or {}).get("dataset"):
                raise GalmassError(f"ensemble member {name!r} was trained on other catalogues "
                                   f"(preprocessing, nuisances) than {self.names[0]!r}")
        if not self.info:
            self.info = {**(first.info or {}), "members": list(self.names)}

    # the attributes prediction reads, shared by the members
    @property
    def map_size(self) -> int:
        return self.members[0].map_size

    @property
    def radii_f(self) -> np.ndarray:
        return self.members[0].radii_f

    @property
    def domain(self):
        return self.members[0].domain

    @property
    def backend(self) -> str:
        return "numpy" if all(m.backend == "numpy" for m in self.members) else "torch"

    def sample_members(self, map1, map2, scalars, n_samples: int = 1000, seed: int = 0,
                       n_stars: Any = None) -> list[np.ndarray]:
        """Each member's samples (n_k, N, n_radii) [log10 Msun]: n_k summing to ``n_samples``
        for a mixture, else ``n_samples`` each."""
        k = len(self.members)
        counts = ([n_samples // k + (i < n_samples % k) for i in range(k)] if self.posterior == "mixture"
                  else [n_samples] * k)
        return [m.sample(map1, map2, scalars, n_samples=c, seed=self._seed(seed, i), n_stars=n_stars)
                for i, (m, c) in enumerate(zip(self.members, counts))]

    def _seed(self, seed: int, i: int) -> int:
        """Member ``i``'s sampling seed for a prediction seeded ``seed`` (distinct per member)."""
        return int(seed) * len(self.members) + i

    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        """The prediction's samples from :meth:`sample_members`' parts."""
        if self.posterior == "mixture":
            return np.concatenate(parts, axis=0)
        return parts[self.names.index(self.posterior)]

    def sample(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0,
               n_stars: Any = None) -> np.ndarray:
        """Samples of the prediction (the mixture or the chosen member), (n_samples, N, n_radii) [log10 Msun]."""
        n = int(n_samples or self.members[0].flow_config.n_samples)
        if self.posterior != "mixture":  # only the chosen member is needed
            i = self.names.index(self.posterior)
            return self.members[i].sample(map1, map2, scalars, n_samples=n, seed=self._seed(seed, i),
                                          n_stars=n_stars)
        return self.combine(self.sample_members(map1, map2, scalars, n, seed, n_stars))

    def predict(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0,
                n_stars: Any = None) -> dict[str, np.ndarray]:
        """Mixture median and 16/84 percentiles of log10 M: keys p16, p50, p84 (N, n_radii)."""
        from galmass.inference.preprocess import summarize_samples

        return summarize_samples(self.sample(map1, map2, scalars, n_samples, seed, n_stars=n_stars))

    @property
    def flow_config(self):
        """The first member's flow settings (its default sample count)."""
        return self.members[0].flow_config

    def features(self, map1, map2, scalars) -> tuple[np.ndarray, None]:
        """The members' mean CNN point estimate of log10 M (N, n_radii); no single feature vector."""
        return np.mean([m.features(map1, map2, scalars)[0] for m in self.members], axis=0), None

    def flagged(self, d: np.ndarray) -> np.ndarray:
        """Whether disagreements ``d`` exceed the threshold."""
        return np.zeros(len(d), bool) if self.threshold is None else np.asarray(d) > self.threshold

    @classmethod
    def load(cls, directory: str | Path, backend: str = "auto", posterior: str | None = None) -> "EnsembleModel":
        """Load an ensemble directory (see the module docstring); problems are one line.
        ``posterior`` overrides the directory's choice (``"mixture"`` or a member's name)."""
        from galmass.inference.model import MassModel

        d = Path(directory)
        meta = _read(d / ENSEMBLE_FILE)
        names = meta["members"]
        members = [MassModel.load(d / "members" / n, backend=backend) for n in names]
        return cls(members, list(names), meta.get("threshold"), posterior or meta.get("posterior", "mixture"))


def _read(path: Path) -> dict:
    meta = read_json(path, "ensemble")
    ok = (isinstance(meta, dict) and meta.get("format_version") == FORMAT_VERSION
          and not set(meta) - {"format_version", "members", "threshold", "threshold_note", "posterior"}
          and isinstance(meta.get("posterior", "mixture"), str)
          and isinstance(meta.get("members"), list) and len(meta["members"]) >= 2
          and all(isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in meta["members"])
          and (meta.get("threshold") is None or isinstance(meta["threshold"], (int, float))))
    if not ok:
        raise GalmassError(f"{path} is not a galmass ensemble of format {FORMAT_VERSION} "
                           f"(members: two or more names; threshold: a number; no other keys); rebuild the model")
    return meta


def validation_threshold(ensemble: EnsembleModel, dataset_dir: str | Path, suites: list[str],
                         max_n: int = 2000, n_samples: int = 400, seed: int = 0) -> float:
    """:data:`THRESHOLD_PERCENTILE` of the members' disagreement on validation projections."""
    from galmass.dataset.readers import load_inputs

    v = load_inputs(dataset_dir, suites=suites, split="validation", max_n=max_n, seed=seed)
    parts = ensemble.sample_members(v["map1"], v["map2"], v["scalars"], n_samples, seed, n_stars=v["n_stars"])
    return float(np.percentile(disagreement(parts), THRESHOLD_PERCENTILE))


def assemble(out: str | Path, configs: list[str | Path], model: str = "joint", posterior: str = "mixture") -> Path:
    """Write an ensemble directory ``out`` (which must not exist: ``make default-model`` writes
    a ``.partial`` directory and renames it into place) from model ``model`` of each profile
    in ``configs`` (trained), with the disagreement threshold measured on the validation set
    of the first profile. ``posterior``: ``"mixture"`` or a profile's name (its member's
    posterior, checked by the others)."""
    from galmass.config import load_config

    cfgs = [load_config(c) for c in configs]
    names = [c.profile for c in cfgs]
    if len(set(names)) != len(names) or len(names) < 2:
        raise GalmassError(f"an ensemble needs two or more different profiles, got {names}")
    out = Path(out)
    if out.exists():
        raise GalmassError(f"{out} exists; the ensemble is written to a new directory")
    for cfg in cfgs:
        src = Path(cfg.models_dir) / model
        if not (src / "model.json").is_file() or not (src / "weights.npz").is_file():
            raise GalmassError(f"{src} is not a finished model with weights.npz; train it (`make PROFILE={cfg.profile} models`)")
        shutil.copytree(src, out / "members" / cfg.profile,
                        ignore=shutil.ignore_patterns("work", ".*", "*.partial", "*.lock"))
    meta = {"format_version": FORMAT_VERSION, "members": names, "threshold": None, "posterior": posterior}
    atomic_write_json(out / ENSEMBLE_FILE, meta)
    ens = EnsembleModel.load(out, backend="numpy")
    suites = (ens.members[0].info.get("spec") or {}).get("suites")
    meta["threshold"] = validation_threshold(ens, cfgs[0].dataset_dir, suites)
    meta["threshold_note"] = (f"{THRESHOLD_PERCENTILE:g}th percentile of the members' disagreement on "
                              f"validation projections of {suites}")
    atomic_write_json(out / ENSEMBLE_FILE, meta)
    return out


if __name__ == "__main__":  # python -m galmass.predict.ensemble OUT POSTERIOR CONFIG CONFIG [...]
    if len(sys.argv) < 5:
        sys.exit("usage: python -m galmass.predict.ensemble OUT POSTERIOR CONFIG CONFIG [...] "
                 "(POSTERIOR: mixture, or the profile whose member's posterior a prediction is)")
    try:
        print(assemble(sys.argv[1], sys.argv[3:], posterior=sys.argv[2]))
    except GalmassError as exc:
        sys.exit(f"galmass: error: {exc}")
