"""Run profiles (``configs/<profile>.yaml``) as dataclasses.

A profile says how big a run is (``smoke`` for CI, ``default`` for a laptop, ``paper`` for
a GPU or cluster); the code never changes between profiles. Unknown keys are an error, so
a typo in a config file is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import GalmassError

__all__ = ["SuitesConfig", "DatasetConfig", "Config", "load_config"]


@dataclass
class SuitesConfig:
    """Mock-suite generation.

    Attributes
    ----------
    names : list of str
        Suites to build.
    n_galaxies : int
        Galaxies per suite.
    n_max_stars : int
        Star particles stored per galaxy at most.
    shard_size : int
        Galaxies per HDF5 shard (the unit of work and of resumption).
    """

    names: list[str] = field(default_factory=lambda: ["cusp", "core", "heldout"])
    n_galaxies: int = 1000
    n_max_stars: int = 10_000
    shard_size: int = 50


@dataclass
class DatasetConfig:
    """Projection dataset (Sect. 2.4 and 4.1 of the paper); see :mod:`galmass.dataset`.

    Attributes
    ----------
    n_los : int
        Lines of sight per galaxy (Fibonacci directions; the paper uses 64).
    map_size : int
        Side of the square KDE maps (the paper uses 256).
    n_min_sample, n_max_sample : int
        Bounds of the stars sub-sampled per projection (:func:`galmass.projection.subsample_size`).
    min_stars : int
        Galaxies with fewer star particles are skipped.
    kde_bandwidth : str
        ``"paper"``: Scott's factor counts the stars within 0.5 R_h (Appendix A);
        ``"scott"``: it counts all stars of the projection.
    balance : bool
        Equalise the training suites per bin of log10 M(<R_h) (Sect. 2.4).
    balance_bins : int
        Number of bins of log10 M(<R_h) [Msun].
    balance_range : (float, float)
        Range of log10 M(<R_h) [Msun] kept (all suites) and balanced (training suites).
    validation_fraction : float
        Fraction of the training galaxies (not projections) held out for validation.
    shard_size : int
        Galaxies per dataset HDF5 shard (the unit of work and of resumption).
    n_sample_range : (int, int) or None
        Observational realism: each projection keeps a star count drawn log-uniformly in
        this range (real spectroscopic samples have ~100-3000 members) instead of
        ``min(n_particles, n_max_sample)``. None: the paper's rule.
    v_err_range : (float, float) or None
        Observational realism: Gaussian velocity errors whose typical value per projection
        is uniform in this range [km/s] (0.2 dex star-to-star scatter), removed from
        ``sigma_los``/``v_p98`` as at prediction time. None: exact velocities (the paper).
    """

    n_los: int = 16
    map_size: int = 64
    n_min_sample: int = 200
    n_max_sample: int = 10_000
    min_stars: int = 50
    kde_bandwidth: str = "paper"
    balance: bool = True
    balance_bins: int = 30
    balance_range: tuple[float, float] = (7.5, 11.0)
    validation_fraction: float = 0.2
    shard_size: int = 50
    n_sample_range: tuple[int, int] | None = None
    v_err_range: tuple[float, float] | None = None


@dataclass
class Config:
    """A run profile."""

    profile: str = "default"
    seed: int = 42
    data_dir: str = "data/default"
    scheduler: str | None = None  # Dask scheduler address; None: a local cluster
    n_workers: int | None = None  # local-cluster workers; None: one per CPU core
    suites: SuitesConfig = field(default_factory=SuitesConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    # sections of later pipeline stages are kept verbatim until their code reads them
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def suites_dir(self) -> Path:
        """Where built suites live: ``<data_dir>/suites``."""
        return Path(self.data_dir) / "suites"

    @property
    def dataset_dir(self) -> Path:
        """Where the projection dataset lives: ``<data_dir>/dataset``."""
        return Path(self.data_dir) / "dataset"


def _build(cls, data: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise GalmassError(f"config {where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}")
    return cls(**data)


def _check_dataset(d: DatasetConfig, path: Path) -> None:
    def ok_int(v, lo):
        return isinstance(v, int) and not isinstance(v, bool) and v >= lo
    problems = [k for k, lo in (("n_los", 1), ("map_size", 2), ("n_min_sample", 1), ("n_max_sample", 1),
                                ("min_stars", 2), ("balance_bins", 1), ("shard_size", 1))
                if not ok_int(getattr(d, k), lo)]
    if problems:
        raise GalmassError(f"config {path}: dataset.{', dataset.'.join(problems)} must be integers "
                           "(n_los, n_min/max_sample, balance_bins, shard_size >= 1, map_size, min_stars >= 2)")
    if d.n_min_sample > d.n_max_sample:
        raise GalmassError(f"config {path}: dataset.n_min_sample must not exceed dataset.n_max_sample")
    if d.kde_bandwidth not in ("paper", "scott"):
        raise GalmassError(f"config {path}: dataset.kde_bandwidth must be 'paper' or 'scott', got {d.kde_bandwidth!r}")
    try:
        lo, hi = (float(v) for v in d.balance_range)
    except (TypeError, ValueError):
        raise GalmassError(f"config {path}: dataset.balance_range must be two numbers") from None
    if not lo < hi:
        raise GalmassError(f"config {path}: dataset.balance_range must be (low, high) with low < high")
    d.balance_range = (lo, hi)
    if d.n_sample_range is not None:
        try:
            a, b = d.n_sample_range
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (a, b)) and max(2, d.min_stars) <= a <= b
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GalmassError(f"config {path}: dataset.n_sample_range must be two integers "
                               f"(low, high) with min_stars <= low <= high, got {d.n_sample_range!r}")
        d.n_sample_range = (int(a), int(b))
    if d.v_err_range is not None:
        try:
            a, b = (float(v) for v in d.v_err_range)
            ok = 0.0 < a <= b
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GalmassError(f"config {path}: dataset.v_err_range must be two numbers [km/s] "
                               f"with 0 < low <= high, got {d.v_err_range!r}")
        d.v_err_range = (a, b)
    if not isinstance(d.balance, bool):
        raise GalmassError(f"config {path}: dataset.balance must be true or false")
    if not 0.0 <= float(d.validation_fraction) < 1.0:
        raise GalmassError(f"config {path}: dataset.validation_fraction must be in [0, 1)")


def load_config(path: str | Path) -> Config:
    """Read a run profile from YAML, validating keys and values."""
    path = Path(path)
    if not path.is_file():
        raise GalmassError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GalmassError(f"config {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise GalmassError(f"config {path} must be a mapping")
    sections = {"suites", "dataset", "extra"}
    known = {f.name for f in dataclasses.fields(Config)} - sections
    top = {k: v for k, v in raw.items() if k in known}
    suites = _build(SuitesConfig, raw.get("suites", {}) or {}, f"{path}: suites")
    dataset = _build(DatasetConfig, raw.get("dataset", {}) or {}, f"{path}: dataset")
    extra = {k: v for k, v in raw.items() if k not in known and k not in sections}
    cfg = Config(suites=suites, dataset=dataset, extra=extra, **top)
    if cfg.suites.n_galaxies < 1 or cfg.suites.shard_size < 1 or cfg.suites.n_max_stars < 50:
        raise GalmassError(f"config {path}: suites.n_galaxies and shard_size must be >= 1, n_max_stars >= 50")
    _check_dataset(cfg.dataset, path)
    from .suites import SUITES
    bad = [s for s in cfg.suites.names if s not in SUITES]
    if bad:
        raise GalmassError(f"config {path}: unknown suite(s) {bad}; known: {list(SUITES)}")
    return cfg
