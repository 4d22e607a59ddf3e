"""Run profiles (``configs/<profile>.yaml``) as dataclasses.

A profile says how big a run is (``smoke`` for CI, ``default`` for a laptop, ``paper`` for
a GPU or cluster); the code never changes between profiles. Every section is a typed
dataclass whose defaults are defined here once; an unknown key at any level is an error
naming the key, its file and the closest valid key, before any work starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from galmass.errors import GalmassError

__all__ = ["SuitesConfig", "DatasetConfig", "CNNConfig", "FlowConfig", "EvaluationConfig",
           "RealGalaxiesConfig", "Config", "load_config", "check_models"]


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
        Bounds of the stars sub-sampled per projection (:func:`galmass.observe.projection.subsample_size`).
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
        Fraction of the training suites' galaxies (not projections) that validate: early
        stopping, the learning-rate schedule and model choice; never a reported number.
    test_fraction : float
        Fraction of the training suites' galaxies kept for testing: every reported number
        (Table 1, TARP, estimator comparisons, figures) comes from them or a held-out suite.
    shard_size : int
        Galaxies per dataset HDF5 shard (the unit of work and of resumption).
    n_sample_range : (int, int) or None
        Observational realism: each projection keeps a star count drawn log-uniformly in
        this range (real spectroscopic samples have ~100-3000 members) instead of
        ``min(n_particles, n_max_sample)``. None: the paper's rule. With foreground
        (``foreground_fraction_range``) this counts the member stars drawn; the catalogue
        adds its foreground, the membership cut removes most of it.
    v_err_range : (float, float) or None
        Observational realism: Gaussian velocity errors whose typical value per projection
        is uniform in this range [km/s] (0.2 dex star-to-star scatter), removed from
        ``sigma_los``/``v_p98`` as at prediction time. None: exact velocities (the paper).
    binary_fraction_range : (float, float) or None
        Dirty catalogues (:mod:`galmass.observe.nuisances`): the fraction of member stars in
        unresolved binaries per projection, uniform in this range. None: no binaries.
    foreground_fraction_range : (float, float) or None
        Dirty catalogues: the fraction of Milky Way foreground stars in the catalogue per
        projection, uniform in this range; a fitted membership mixture then cuts at
        ``p_member >= 0.5`` as ``predict`` does. None: no foreground.
    estimate_centre : bool
        Dirty catalogues: centre and systemic velocity estimated from the stars as
        ``predict`` estimates them (otherwise the true centre).
    membership_weights : bool
        Dirty catalogues: weight the stars by their fitted ``p_member`` instead of cutting
        at 0.5 (``predict`` then weights a catalogue's ``p_member`` the same way).
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
    test_fraction: float = 0.2
    shard_size: int = 50
    n_sample_range: tuple[int, int] | None = None
    v_err_range: tuple[float, float] | None = None
    binary_fraction_range: tuple[float, float] | None = None
    foreground_fraction_range: tuple[float, float] | None = None
    estimate_centre: bool = False
    membership_weights: bool = False



@dataclass
class CNNConfig:
    """Network widths and training settings (paper values for lr, batch, patience).

    ``scale_free`` (not in the paper; needs ``residual_target``): the network sees only
    dimensionless inputs, the two maps (already in units of R_h and v_p98) and
    log10(v_p98 / sigma_los); R_h and sigma_los enter only through the mass scale
    log10(R_h sigma_los^2 / G) that the target is relative to. Its predictions then follow
    the scaling symmetry of gravity exactly (velocities x s: masses x s^2; sizes x l: masses
    x l), so the correlations of size and dispersion among the mock galaxies cannot stand in
    for a real galaxy's structure. With the absolute scalars, the shipped model put galaxies
    of the Gaia Challenge rescaled to sigma = 3-6 km/s 0.6 dex too high, although their
    structure is that of the same galaxies at 10 km/s, which it got right.
    """

    channels: tuple[int, int] = (8, 16)
    kernel_size: int = 3
    hidden: int = 64
    n_features: int = 32
    dropout: float = 0.2
    lr: float = 5e-4
    batch_size: int = 128
    lr_patience: int = 10
    lr_factor: float = 0.5
    early_stop_patience: int = 25
    max_epochs: int = 200
    residual_target: bool = True
    scale_free: bool = False
    seed: int = 0
    num_threads: int | None = None


@dataclass
class FlowConfig:
    """MAF settings (paper: 32 hidden features, 4 transforms, batch 64, lr 1e-4).

    ``lr_patience`` (optional, not in the paper): multiply the learning rate by ``lr_factor``
    after that many epochs without a better validation loss (``ReduceLROnPlateau``), as the
    paper does for its CNN; training then anneals instead of stopping at a noisy point, and
    ends once the learning rate has fallen below ``min_lr`` (or by ``stop_after_epochs``).

    ``estimator`` is sbi's density estimator: ``"maf"`` (the paper's affine MAF),
    ``"maf_rqs"`` (a MAF whose autoregressive transforms are rational-quadratic splines,
    Durkan et al. 2019, able to give peaked, heavy-tailed posteriors) or ``"nsf"``.

    ``relative_to_cnn`` (not in the paper): the flow models log10 M minus the CNN's own
    point estimate instead of minus the mass scale (see :func:`galmass.inference.preprocess.flow_shift`).
    The estimate is a deterministic function of the flow's inputs, so this is the same
    posterior written around it; the flow then only has to learn the error distribution,
    not to re-learn the mean from the 32 features (which left the paper-size MAF too wide
    in the core and too narrow in the tails, i.e. off in TARP).

    ``condition_on_n_stars`` (not in the paper): the flow is conditioned on log10 of the
    projection's star count as well as on the CNN features (see
    :func:`galmass.inference.preprocess.flow_condition`), so that the width of the posterior can
    follow the number of stars. Without it, a model trained on 20-5000 stars gives bands of
    one width whatever the count (measured: too narrow below ~100 stars, too wide above).

    ``scale_with_n_stars`` (not in the paper; needs ``condition_on_n_stars``): the flow's
    variable is also divided by a width that follows the star count,
    ``s(N) = sqrt(a + b / N)`` [dex] per radius, fitted to the training residuals
    (:class:`galmass.inference.preprocess.ResidualScale`); samples are multiplied back by it.
    Measured on the shipped model conditioned on log10 N alone: its 16-84% bands were 0.138
    dex wide (half) at 20-100 stars where the errors scatter 0.185, and 0.123 at 500-2000
    stars where they scatter 0.092, i.e. the flow hardly used the count.
    """

    hidden_features: int = 32
    num_transforms: int = 4
    estimator: str = "maf"
    relative_to_cnn: bool = False
    condition_on_n_stars: bool = False
    scale_with_n_stars: bool = False
    batch_size: int = 64
    lr: float = 1e-4
    lr_patience: int | None = None
    lr_factor: float = 0.5
    min_lr: float = 0.0
    stop_after_epochs: int = 20
    max_epochs: int = 300
    clip_max_norm: float = 5.0
    n_samples: int = 1000
    seed: int = 0


#: sbi density estimators a flow may use (``FlowConfig.estimator``).
FLOW_ESTIMATORS = ("maf", "maf_rqs", "nsf")


@dataclass
class EvaluationConfig:
    """How many projections ``galmass evaluate`` predicts per evaluation set.

    ``max_eval`` / ``max_train_eval`` cap the projections predicted per evaluation set and
    ``max_samples_stored`` those whose posterior samples are kept. The joint model's
    validation sets are its calibration verdict (TARP, Fig. 10): with ``max_calibration_eval``
    they are predicted on up to that many projections per suite, all stored with samples
    (the projections of one galaxy are correlated, so TARP needs many galaxies).
    """

    max_eval: int = 2000
    max_train_eval: int = 2000
    max_samples_stored: int = 500
    max_calibration_eval: int | None = None


@dataclass
class RealGalaxiesConfig:
    """Which model notebook 07 applies to real galaxies: ``"shipped"`` (the model shipped
    with galmass) or the name of one of the profile's models."""

    model: str = "shipped"


@dataclass
class Config:
    """A run profile."""

    profile: str = "default"
    seed: int = 42
    data_dir: str = "data/default"
    output_dir: str = "."  # root of models/<profile>, results/<profile> and build/<profile>
    scheduler: str | None = None  # Dask scheduler address; None: a local cluster
    n_workers: int | None = None  # local-cluster workers; None: one per CPU core
    suites: SuitesConfig = field(default_factory=SuitesConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    cnn: CNNConfig = field(default_factory=CNNConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    #: model name -> its training suites (the paper's: NIHAO-only, AURIGA-only and both)
    models: dict[str, list[str]] = field(default_factory=lambda: {"joint": ["cusp", "core"]})
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    real_galaxies: RealGalaxiesConfig = field(default_factory=RealGalaxiesConfig)

    @property
    def suites_dir(self) -> Path:
        """Where built suites live: ``<data_dir>/suites``."""
        return Path(self.data_dir) / "suites"

    @property
    def dataset_dir(self) -> Path:
        """Where the projection dataset lives: ``<data_dir>/dataset``."""
        return Path(self.data_dir) / "dataset"

    @property
    def models_dir(self) -> Path:
        """Where the trained models go: ``<output_dir>/models/<profile>``."""
        return Path(self.output_dir) / "models" / self.profile

    @property
    def results_dir(self) -> Path:
        """Where predictions, metrics.json and TARP curves go: ``<output_dir>/results/<profile>``."""
        return Path(self.output_dir) / "results" / self.profile

    @property
    def book_dir(self) -> Path:
        """Where the executed notebooks and the HTML book go: ``<output_dir>/build/<profile>``."""
        return Path(self.output_dir) / "build" / self.profile

    def paths(self) -> dict[str, Path]:
        """Every artefact directory of the profile, by name (the one map of paths: the
        package, ``galmass paths`` and the Makefile all read it)."""
        return {"data": Path(self.data_dir), "suites": self.suites_dir, "dataset": self.dataset_dir,
                "models": self.models_dir, "results": self.results_dir, "book": self.book_dir}


#: The typed sections of a profile.
_SECTIONS = {"suites": SuitesConfig, "dataset": DatasetConfig, "cnn": CNNConfig, "flow": FlowConfig,
             "evaluation": EvaluationConfig, "real_galaxies": RealGalaxiesConfig}


def _unknown_key(key: str, allowed, where: str, path: Path) -> GalmassError:
    """One line: the unknown key, its file, and the closest valid key."""
    import difflib

    close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (valid keys: {', '.join(sorted(allowed))})"
    return GalmassError(f"unknown key {key!r}{where} in {path}{hint}")


def _build(cls, data: Any, section: str, path: Path):
    """A section dataclass from its YAML mapping; any unknown key is an error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GalmassError(f"config {path}: section {section} must be a mapping of keys to values, "
                           f"got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise _unknown_key(key, fields, f" in section {section}", path)
    if "channels" in data:
        try:
            data = {**data, "channels": tuple(int(c) for c in data["channels"])}
        except (TypeError, ValueError):
            raise GalmassError(f"config {path}: {section}.channels must be a list of integers") from None
    return cls(**data)


def check_models(models: Any, suites: list[str], path: Path | str) -> dict[str, list[str]]:
    """The ``models`` section: model name -> training suites, each among ``suites``."""
    if not isinstance(models, dict) or not models:
        raise GalmassError(f"config {path}: section models must map each model name to its training "
                           f"suites, e.g. joint: [cusp, core]")
    out = {}
    for name, train in models.items():
        if not isinstance(train, list) or not train or any(t not in suites for t in train):
            raise GalmassError(f"config {path}: model {name!r}: training suites {train} must be a "
                               f"non-empty list among the profile's suites {suites}")
        out[str(name)] = [str(t) for t in train]
    return out


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
    for key, top in (("binary_fraction_range", 1.0), ("foreground_fraction_range", 0.9)):
        value = getattr(d, key)
        if value is None:
            continue
        try:
            a, b = (float(v) for v in value)
            ok = 0.0 <= a <= b <= top
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GalmassError(f"config {path}: dataset.{key} must be two numbers with 0 <= low <= high <= {top:g}, "
                               f"got {value!r}")
        setattr(d, key, (a, b))
    for key in ("estimate_centre", "membership_weights"):
        if not isinstance(getattr(d, key), bool):
            raise GalmassError(f"config {path}: dataset.{key} must be true or false")
    if not isinstance(d.balance, bool):
        raise GalmassError(f"config {path}: dataset.balance must be true or false")
    if not (0.0 <= float(d.validation_fraction) < 1.0 and 0.0 <= float(d.test_fraction) < 1.0
            and float(d.validation_fraction) + float(d.test_fraction) < 1.0):
        raise GalmassError(f"config {path}: dataset.validation_fraction and dataset.test_fraction must be "
                           f">= 0 with a sum below 1 (the rest of the galaxies train)")


def _read_raw(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict, list[Path]]:
    """The YAML mapping of a profile, on top of the profile named by its ``base`` key (a path
    relative to it): sections are merged key by key, other keys (and ``models``) replaced;
    and the files it was read from (the profile's, then its base chain)."""
    if not path.is_file():
        raise GalmassError(f"config file not found: {path}" + (f" (the base of {chain[-1]})" if chain else ""))
    if path.resolve() in chain:
        raise GalmassError(f"config {path}: its base chain loops back to itself")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GalmassError(f"config {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise GalmassError(f"config {path} must be a mapping")
    base = raw.pop("base", None)
    if base is None:
        return raw, [path]
    if not isinstance(base, str):
        raise GalmassError(f"config {path}: base must be the path of another profile, got {base!r}")
    merged, files = _read_raw(path.parent / base, chain + (path.resolve(),))
    for key, value in raw.items():
        if key in _SECTIONS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged, [path] + files


def config_files(path: str | Path) -> list[Path]:
    """The profile's file and those of its ``base`` chain (what its settings are read from)."""
    return _read_raw(Path(path))[1]


def load_config(path: str | Path) -> Config:
    """Read a run profile from YAML, validating keys and values.

    A profile may start from another: ``base: observed.yaml`` (relative to this file) takes
    that profile and overrides what this one sets (a section key by key).
    """
    path = Path(path)
    raw = _read_raw(path)[0]
    scalars = {f.name for f in dataclasses.fields(Config)} - set(_SECTIONS) - {"models"}
    for key in raw:  # every key is checked before any work starts
        if key not in scalars and key not in _SECTIONS and key != "models":
            raise _unknown_key(key, scalars | set(_SECTIONS) | {"models"}, "", path)
    sections = {name: _build(cls, raw.get(name), name, path) for name, cls in _SECTIONS.items()}
    cfg = Config(**{k: raw[k] for k in scalars if k in raw}, **sections)
    if cfg.suites.n_galaxies < 1 or cfg.suites.shard_size < 1 or cfg.suites.n_max_stars < 50:
        raise GalmassError(f"config {path}: suites.n_galaxies and shard_size must be >= 1, n_max_stars >= 50")
    _check_dataset(cfg.dataset, path)
    from galmass.sources.suites import SUITES
    bad = [s for s in cfg.suites.names if s not in SUITES]
    if bad:
        raise GalmassError(f"config {path}: unknown suite(s) {bad}; known: {list(SUITES)}")
    if "models" in raw:  # the default (joint: [cusp, core]) is checked when a model is trained
        cfg.models = check_models(raw["models"], list(cfg.suites.names), path)
    if cfg.flow.estimator not in FLOW_ESTIMATORS:
        raise GalmassError(f"config {path}: flow.estimator must be one of {', '.join(FLOW_ESTIMATORS)}, "
                           f"got {cfg.flow.estimator!r}")
    if cfg.cnn.scale_free and not cfg.cnn.residual_target:
        raise GalmassError(f"config {path}: cnn.scale_free needs cnn.residual_target: true "
                           "(the mass scale is the only way R_h and sigma_los reach the prediction)")
    if cfg.flow.scale_with_n_stars and not cfg.flow.condition_on_n_stars:
        raise GalmassError(f"config {path}: flow.scale_with_n_stars needs flow.condition_on_n_stars: true "
                           "(the star counts reach the flow through it)")
    if cfg.real_galaxies.model != "shipped" and cfg.real_galaxies.model not in cfg.models:
        raise GalmassError(f"config {path}: real_galaxies.model must be 'shipped' or one of the profile's "
                           f"models {sorted(cfg.models)}, got {cfg.real_galaxies.model!r}")
    return cfg
