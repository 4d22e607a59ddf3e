"""Galaxy sources: locally generated mock suites, and real snapshots read with pynbody.

The paper trains on NIHAO and AURIGA and tests on FIRE-2. Those snapshots cannot be had
here, so galmass embeds three *mock suites* whose physics differ the way the paper's
suites do (see :data:`SUITE_SPECS`):

``cusp`` (AURIGA-like)
    NFW halos; cuspy Sérsic (Prugniel-Simien; Hernquist-like centre) stellar profiles; radially biased
    Cuddeford/Osipkov-Merritt anisotropy; compact; star particles of 6e3 Msun.
``core`` (NIHAO-like)
    Di Cintio et al. (2014) halos whose inner slope depends on log10(M*/Mhalo) (cores near
    -2.7, cusps at lower and higher ratios); Plummer stars; milder anisotropy; larger sizes;
    resolution that scales with halo mass as in NIHAO's zooms.
``heldout`` (FIRE-like; test only)
    coreNFW halos (Read et al. 2016) with a different core prescription; Einasto stars;
    strongly radial outskirts; the largest sizes and the broadest size scatter; 2e3 Msun
    star particles.

A truer universe (issue #18) adds three suites of dwarf-sized, non-spherical, rotating
galaxies in steady state (:mod:`galmass.sources.shapes`), with stellar masses from Behroozi et
al. (2013) (``shaped_core``: Moster et al. 2013) down to ultra-faint dwarfs (M* >= 1e3.5 Msun in
the training suites, ~50-200 stars; 1e5.5 in ``tidal``), sizes from the Local Volume Database dwarfs
(:func:`~galmass.physics.relations.half_light_radius_dwarfs`), anisotropy drawn independently
of the halo (central beta0 in [-0.4, 0.3], r_a / r_1/2 log-uniform in [0.5, 100]) and star
counts that grow as sqrt(M*) (650 at 1e6 Msun):

``shaped_cusp`` (AURIGA-like)
    triaxial NFW halos (density c/a 0.4-0.9), triaxial Sersic stars (drawn c/a 0.3-1),
    rotation by reversing up to 80% of the counter-rotating stars.
``shaped_core`` (NIHAO-like)
    coreNFW halos (Read et al. 2016) made oblate (c/a 0.5-0.95), with core radii 0.1-10 r_1/2
    and core completeness n uniform in [0, 1], both independent of the galaxy; stellar masses
    from Moster et al. (2013) with a wide 0.6 dex scatter, so that at a given M* the halos
    range from baryon-dominated to dark-matter dominated centres (with the same SMHM as
    ``shaped_cusp``, Di Cintio et al. cores left nearly every dwarf star-dominated inside
    R_h, issue #18); oblate, rotating Sersic stars of index 0.6-1 (exponential-like
    outskirts and a mild inner cusp, so that radially anisotropic tracers in cores have
    non-negative DFs).
``tidal`` (FIRE-like; test only)
    physics no training suite has: triaxial coreNFW halos tidally truncated (coreNFWtides of
    Read et al. 2018; core radii 0.1-10 r_1/2, tidal radii 3-30 r_1/2, outer slopes 3.5-5),
    Einasto stars, and a different distribution-function family (Gaussian Jeans initial
    conditions, phase-mixed), with wider anisotropy (r_a down to 0.3 r_1/2, beta0 to 0.45).

Every galaxy draws: halo mass (log-uniform), stellar mass from Moster et al. (2013) with
scatter, concentration from Dutton & Macciò (2014) with scatter, 3-D stellar half-mass
radius from Kravtsov (2013) with scatter, and anisotropy; then stars are drawn from the
equilibrium Cuddeford DF of the stars in the total (dark matter + stellar) potential
(:class:`galmass.physics.df.CuddefordDF`). The true mass profile is analytic (for the
non-spherical suites: Gauss's theorem on the ellipsoidal potentials,
:class:`~galmass.physics.potentials.NonSphericalMass`).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from galmass.errors import GalmassError
from galmass.physics import relations
from galmass.physics.df import CuddefordDF, JeansGaussianICs, UnphysicalDF
from galmass.physics.profiles import (NFW, Composite, CoreNFW, CoreNFWTides, Dehnen, Einasto, Plummer, Sersic,
                                      Tracer, Zhao)
from galmass.sources.galaxy import Galaxy
from galmass.sources.shapes import SPHERICAL, ShapePrior, shape_galaxy

__all__ = ["SUITES", "TRAINING_SUITES", "HELDOUT_SUITES", "SuiteSpec", "SUITE_SPECS",
           "load_suite", "make_galaxy", "draw_model", "GalaxyModel", "read_snapshot", "suite_summary"]

log = logging.getLogger(__name__)

#: Selection of the paper (Sect. 2.4): stellar mass range [Msun] and minimum star particles.
MIN_STELLAR_MASS = 10**5.5
MAX_STELLAR_MASS = 1e11
MIN_STAR_PARTICLES = 50
#: The dwarf-sized suites go down to ultra-faint dwarfs (issue #19: 20-100-star catalogues,
#: dispersions of 3-6 km/s); with ``n_stars_norm`` = 650 their smallest galaxies have ~50 stars.
MIN_STELLAR_MASS_DWARFS = 10**3.5


@dataclass(frozen=True)
class SuiteSpec:
    """The physics that defines a mock suite.

    Attributes
    ----------
    name, analogue, description : str
        Suite name, the paper's suite it stands in for, and a one-line summary.
    halo : str
        ``"nfw"``, ``"dc14"`` or ``"corenfw"``.
    stars : str
        ``"sersic"``, ``"plummer"`` or ``"einasto"``.
    log_m200_range : (float, float)
        Range of log10 M200c [Msun], drawn uniformly.
    shmr_scatter : float
        Log-normal scatter [dex] of M* about the stellar-to-halo mass relation ``shmr``.
    shmr_scatter_growth : float
        Extra scatter [dex] per dex of M200 below 1e11 Msun: the scatter of the relation grows
        toward dwarfs (Garrison-Kimmel et al. 2017, MNRAS 464, 3108), so that a dwarf of given
        M* may live in a much lighter (colder) or heavier (hotter) halo.
    concentration_scatter : float
        Log-normal scatter [dex] about Dutton & Macciò (2014).
    size_norm, size_scatter : float
        Kravtsov (2013) normalisation r_1/2 / r200 and its scatter [dex].
    beta0_range : (float, float)
        Uniform range of the central anisotropy beta0.
    ra_over_rhalf : (float, float)
        Median and scatter [dex] of the anisotropy radius in units of r_1/2 (inf allowed).
    particle_mass : callable
        Star-particle mass [Msun] as a function of M200 [Msun].
    training : bool
        Whether the suite is used for training (False: held out for testing only).
    shape : ShapePrior
        Shapes and rotation (:mod:`galmass.sources.shapes`); the default keeps the galaxy
        spherical and non-rotating.
    size_relation : str
        ``"kravtsov"`` (``size_norm`` r200) or ``"dwarfs"``
        (:func:`~galmass.physics.relations.half_light_radius_dwarfs`, 3-D = 4/3 projected).
    ra_range : (float, float) or None
        If given, r_a / r_1/2 is log-uniform in this range (independent of the halo), instead
        of ``ra_over_rhalf``.
    core_radius_range : (float, float) or None
        coreNFW halos: core radius r_c / r_1/2, log-uniform (None: 1.75).
    core_n_range : (float, float) or None
        coreNFW halos: core completeness n uniform in this range, independent of the halo
        (None: :func:`~galmass.physics.relations.corenfw_n`, a bump in log10(M*/Mhalo)).
    tidal_radius_range, tidal_slope_range : (float, float) or None
        coreNFWtides halos: tidal radius r_t / r_1/2 (log-uniform) and outer slope delta.
    stars_index_range : (float, float) or None
        Uniform range of the stellar profile's shape parameter: Sersic index n (default
        0.8-3), Einasto index n (default 0.6-2) or Dehnen inner slope gamma (default 0-1).
    df_family : str
        ``"cuddeford"`` (equilibrium DF) or ``"jeans"`` (Gaussian Jeans initial conditions,
        steady only after phase mixing: needs a non-spherical ``shape``).
    shmr : str
        Stellar-to-halo mass relation: ``"moster13"`` or ``"behroozi13"``.
    n_stars_norm : float or None
        If given, the galaxy has ``n_stars_norm * sqrt(M* / 1e6 Msun)`` stars (spectroscopic
        samples of dwarfs grow roughly so) instead of ``M* / particle_mass``.
    min_stellar_mass : float
        Smallest stellar mass [Msun] kept (the paper's selection: 1e5.5).
    """

    name: str
    analogue: str
    description: str
    halo: str
    stars: str
    log_m200_range: tuple[float, float]
    shmr_scatter: float
    concentration_scatter: float
    size_norm: float
    size_scatter: float
    beta0_range: tuple[float, float]
    ra_over_rhalf: tuple[float, float]
    particle_mass: Callable[[float], float]
    training: bool = True
    shmr_scatter_growth: float = 0.0
    shape: ShapePrior = SPHERICAL
    size_relation: str = "kravtsov"
    ra_range: tuple[float, float] | None = None
    core_radius_range: tuple[float, float] | None = None
    core_n_range: tuple[float, float] | None = None
    tidal_radius_range: tuple[float, float] | None = None
    tidal_slope_range: tuple[float, float] | None = None
    stars_index_range: tuple[float, float] | None = None
    df_family: str = "cuddeford"
    n_stars_norm: float | None = None
    shmr: str = "moster13"
    min_stellar_mass: float = MIN_STELLAR_MASS

    def __post_init__(self) -> None:
        if self.df_family not in ("cuddeford", "jeans"):
            raise GalmassError(f"suite {self.name}: df_family must be 'cuddeford' or 'jeans', got {self.df_family!r}")
        if self.df_family == "jeans" and self.shape.spherical:
            raise GalmassError(f"suite {self.name}: Jeans initial conditions need a non-spherical shape "
                               "(they only reach a steady state by phase mixing)")
        if self.shmr not in ("moster13", "behroozi13"):
            raise GalmassError(f"suite {self.name}: shmr must be 'moster13' or 'behroozi13'")
        if self.size_relation not in ("kravtsov", "dwarfs"):
            raise GalmassError(f"suite {self.name}: size_relation must be 'kravtsov' or 'dwarfs'")


#: Flattest drawn stellar c/a of the shaped suites (issue #18: ~0.3-1). Draws to 0.1-0.15 gave 38-42%
#: of galaxies c/a < 0.3, which alone scattered the estimators' M_est/M_true by 0.47-0.70 (vs 0.16-0.29).
STARS_C_OVER_A_MIN = 0.3
#: Skew of the stellar c/a draw on [0.3, 1] (:class:`ShapePrior`) for a median projected ellipticity
#: ~0.3 (LVDB MW dwarfs 0.36; uniform draws 0.23-0.26). Oblate 1.6 (median c/a 0.53); triaxial stars
#: look rounder at the same c/a: 2.5 (median c/a 0.42, ellipticity 0.29-0.30). EDGE dwarfs: c/a ~0.48.
STARS_FLATTENING = 1.6
STARS_FLATTENING_TRIAXIAL = 2.5

#: Halo priors reaching the ultra-faints (#18/#19): M200 from 1e7, SHMR scatter growing 0.2 dex/dex below
#: 1e11 (shaped_cusp), 0.2 dex in concentration. MW dwarfs below the 5th percentile of the mocks' sigma
#: at their R_h: 35% -> 12% (cusp), 16% (core) (:func:`galmass.evaluation.realism.cold_tail`).
LOG_M200_MIN_DWARFS = 7.0
SHMR_SCATTER_GROWTH = 0.2
CONCENTRATION_SCATTER_DWARFS = 0.2

SUITE_SPECS: dict[str, SuiteSpec] = {
    "cusp": SuiteSpec(
        name="cusp", analogue="AURIGA",
        description="NFW cusps, cuspy Sersic stars, radially biased outskirts, compact",
        halo="nfw", stars="sersic", log_m200_range=(9.2, 12.9), shmr_scatter=0.2,
        concentration_scatter=0.11, size_norm=0.012, size_scatter=0.15,
        beta0_range=(-0.3, 0.25), ra_over_rhalf=(2.0, 0.25),
        particle_mass=lambda m200: 6.0e3,
    ),
    "core": SuiteSpec(
        name="core", analogue="NIHAO",
        description="Di Cintio+14 cores/cusps, Plummer stars, mild anisotropy, extended",
        halo="dc14", stars="plummer", log_m200_range=(9.2, 12.9), shmr_scatter=0.25,
        concentration_scatter=0.11, size_norm=0.018, size_scatter=0.2,
        beta0_range=(-0.35, 0.0), ra_over_rhalf=(4.0, 0.3),
        particle_mass=lambda m200: float(np.clip(5e-8 * m200, 1e2, 1e5)),
    ),
    "heldout": SuiteSpec(
        name="heldout", analogue="FIRE-2",
        description="coreNFW cores (Read+16), Einasto stars, strongly radial outskirts",
        halo="corenfw", stars="einasto", log_m200_range=(9.2, 12.9), shmr_scatter=0.3,
        concentration_scatter=0.13, size_norm=0.02, size_scatter=0.25,
        beta0_range=(-0.4, 0.0), ra_over_rhalf=(1.3, 0.2),
        particle_mass=lambda m200: 2.0e3, training=False,
    ),
    # ---- a truer universe (issue #18): shapes, rotation, dwarf sizes, decoupled wide priors
    "shaped_cusp": SuiteSpec(
        name="shaped_cusp", analogue="AURIGA",
        description="triaxial NFW halos, flattened rotating Sersic stars, dwarf sizes, wide anisotropy",
        halo="nfw", stars="sersic", log_m200_range=(LOG_M200_MIN_DWARFS, 12.0), shmr_scatter=0.25,
        shmr_scatter_growth=SHMR_SCATTER_GROWTH, concentration_scatter=CONCENTRATION_SCATTER_DWARFS,
        size_norm=0.0, size_scatter=0.25,
        beta0_range=(-0.4, 0.3), ra_over_rhalf=(np.inf, 0.0), particle_mass=lambda m200: 1.0,
        shape=ShapePrior(halo_c_over_a=(0.4, 0.9), halo_triaxial=True, stars_c_over_a=(STARS_C_OVER_A_MIN, 1.0),
                         stars_triaxial=True, stars_c_over_a_power=STARS_FLATTENING_TRIAXIAL, rotation=(0.0, 0.8)),
        size_relation="dwarfs", ra_range=(0.5, 100.0), n_stars_norm=650.0, shmr="behroozi13",
        min_stellar_mass=MIN_STELLAR_MASS_DWARFS,
    ),
    "shaped_core": SuiteSpec(
        name="shaped_core", analogue="NIHAO",
        description="coreNFW cores of 0.1-10 R_h in flattened halos, rotating exponential-like stars, dwarf sizes",
        halo="corenfw", stars="sersic", log_m200_range=(LOG_M200_MIN_DWARFS, 12.0), shmr_scatter=0.6,
        concentration_scatter=CONCENTRATION_SCATTER_DWARFS, size_norm=0.0, size_scatter=0.25,
        beta0_range=(-0.4, 0.3), ra_over_rhalf=(np.inf, 0.0), particle_mass=lambda m200: 1.0,
        shape=ShapePrior(halo_c_over_a=(0.5, 0.95), halo_triaxial=False, stars_c_over_a=(STARS_C_OVER_A_MIN, 1.0),
                         stars_triaxial=False, stars_c_over_a_power=STARS_FLATTENING, rotation=(0.0, 0.6)),
        size_relation="dwarfs", ra_range=(0.5, 100.0), stars_index_range=(0.6, 1.0), n_stars_norm=650.0,
        shmr="moster13", core_radius_range=(0.1, 10.0), core_n_range=(0.0, 1.0),
        min_stellar_mass=MIN_STELLAR_MASS_DWARFS,
    ),
    "tidal": SuiteSpec(
        name="tidal", analogue="FIRE-2",
        description="triaxial tidally truncated coreNFW halos, Einasto stars, Jeans initial conditions",
        halo="corenfwtides", stars="einasto", log_m200_range=(9.0, 12.0), shmr_scatter=0.35,
        concentration_scatter=0.13, size_norm=0.0, size_scatter=0.3,
        beta0_range=(-0.5, 0.45), ra_over_rhalf=(np.inf, 0.0), particle_mass=lambda m200: 1.0, training=False,
        shape=ShapePrior(halo_c_over_a=(0.35, 0.8), halo_triaxial=True, stars_c_over_a=(STARS_C_OVER_A_MIN, 1.0),
                         stars_triaxial=True, stars_c_over_a_power=STARS_FLATTENING_TRIAXIAL, rotation=(0.0, 0.7)),
        size_relation="dwarfs", ra_range=(0.3, 100.0), core_radius_range=(0.1, 10.0),
        tidal_radius_range=(3.0, 30.0), tidal_slope_range=(3.5, 5.0), df_family="jeans", n_stars_norm=650.0,
        shmr="behroozi13",
    ),
}

#: Names of the mock suites.
SUITES: tuple[str, ...] = tuple(SUITE_SPECS)
TRAINING_SUITES: tuple[str, ...] = tuple(k for k, v in SUITE_SPECS.items() if v.training)
HELDOUT_SUITES: tuple[str, ...] = tuple(k for k, v in SUITE_SPECS.items() if not v.training)


def _spec(name: str) -> SuiteSpec:
    if name not in SUITE_SPECS:
        raise GalmassError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}")
    return SUITE_SPECS[name]


def galaxy_rng(suite: str, index: int, seed: int) -> np.random.Generator:
    """The random generator of galaxy ``index`` of ``suite`` (independent of build order)."""
    return np.random.default_rng([int(seed), zlib.crc32(suite.encode()), int(index)])


def _halo(spec: SuiteSpec, m200: float, r200: float, c: float, x: float, r_half: float,
          rng: np.random.Generator):
    if spec.halo == "nfw":
        return NFW(m200, r200, c)
    if spec.halo == "dc14":
        alpha, beta, gamma, cfac = relations.dc14_shape(x)
        r_m2 = r200 / (c * cfac)  # radius where the log-slope is -2
        r_s = r_m2 / ((2.0 - gamma) / (beta - 2.0)) ** (1.0 / alpha)
        return Zhao(m200, r200, r_s, alpha, beta, gamma)
    if spec.halo in ("corenfw", "corenfwtides"):
        if spec.core_n_range is None:
            n = relations.corenfw_n(x, strength=rng.uniform(0.3, 1.0))
        else:
            n = float(rng.uniform(*spec.core_n_range))
        r_c = 1.75 * r_half if spec.core_radius_range is None else r_half * _log_uniform(rng, spec.core_radius_range)
        if spec.halo == "corenfw":
            return CoreNFW(m200, r200, c, r_c=r_c, n=n)
        r_t = r_half * _log_uniform(rng, spec.tidal_radius_range or (10.0, 10.0))
        delta = float(rng.uniform(*(spec.tidal_slope_range or (4.0, 4.0))))
        return CoreNFWTides(m200, r200, c, r_c=r_c, n=n, r_t=min(r_t, r200), delta=delta)
    raise GalmassError(f"unknown halo model {spec.halo!r}")


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _stars(spec: SuiteSpec, mstar: float, r_half: float, rng: np.random.Generator) -> Tracer:
    if spec.stars == "plummer":
        # r_1/2 = a / sqrt(2^(2/3) - 1)
        return Plummer(mstar, r_half * np.sqrt(2 ** (2 / 3) - 1))
    if spec.stars == "sersic":
        n = rng.uniform(*(spec.stars_index_range or (0.8, 3.0)))
        unit = Sersic(1.0, 1.0, n)
        return Sersic(mstar, r_half / float(unit.radius_quantile(np.array(0.5))), n)
    if spec.stars == "dehnen":  # r_1/2 = a / (2^(1/(3-gamma)) - 1)
        gamma = float(rng.uniform(*(spec.stars_index_range or (0.0, 1.0))))
        return Dehnen(mstar, r_half * (2 ** (1 / (3 - gamma)) - 1), gamma)
    if spec.stars == "einasto":
        n = rng.uniform(*(spec.stars_index_range or (0.6, 2.0)))
        from scipy.special import gammaincinv
        return Einasto(mstar, r_half / gammaincinv(3 * n, 0.5) ** n, n)
    raise GalmassError(f"unknown stellar model {spec.stars!r}")


def _draw_df(spec, stars, total, r_half, rng, max_tries: int = 12):
    """Draw anisotropy; if its DF is negative, make it more tangential/isotropic and retry."""
    beta0 = rng.uniform(*spec.beta0_range)
    if spec.ra_range is not None:
        r_a = r_half * _log_uniform(rng, spec.ra_range)
    else:
        med, sc = spec.ra_over_rhalf
        r_a = med * r_half * 10 ** rng.normal(0.0, sc)
    if spec.df_family == "jeans":
        return JeansGaussianICs(stars, total, beta0=beta0, r_a=r_a), 0
    if spec.stars == "sersic":  # central cusp-anisotropy theorem: beta0 <= p/2
        beta0 = min(beta0, stars.p / 2 - 0.05)
    if spec.stars == "dehnen":
        beta0 = min(beta0, stars.gamma / 2 - 0.05)
    for attempt in range(max_tries):
        try:
            return CuddefordDF(stars, total, beta0=beta0, r_a=r_a, n_grid=500), attempt
        except UnphysicalDF:
            beta0 = max(beta0 - 0.1, -0.45)
            r_a *= 1.5
    raise UnphysicalDF(f"no positive DF after {max_tries} tries (beta0={beta0:.2f}, r_a={r_a:.3g})")


@dataclass
class GalaxyModel:
    """The drawn physical model of one mock galaxy, before its stars are sampled.

    ``halo`` and ``stars`` are the analytic profiles, ``total`` their sum (the truth), ``df``
    the stars' equilibrium distribution function in the total potential, and ``rng`` the
    galaxy's generator, positioned to sample its stars.
    """

    suite: str
    index: int
    seed: int
    halo: Any
    stars: Tracer
    total: Composite
    df: CuddefordDF
    rng: np.random.Generator
    params: dict[str, Any]


def draw_model(suite: str, index: int, seed: int = 0) -> GalaxyModel:
    """Draw the physical model of galaxy ``index`` of mock ``suite`` (deterministic for ``seed``).

    Halo mass is log-uniform; the galaxy is redrawn until it passes the selection
    (``min_stellar_mass`` <= M* <= 1e11 Msun, the paper's 1e5.5 unless the suite goes down to
    ultra-faints, and at least 50 star particles at the suite's resolution).
    """
    spec = _spec(suite)
    if index < 0:
        raise GalmassError(f"galaxy index must be >= 0, got {index}")
    rng = galaxy_rng(suite, index, seed)
    for _ in range(1000):
        log_m200 = rng.uniform(*spec.log_m200_range)
        m200 = 10**log_m200
        shmr = relations.stellar_mass_behroozi13 if spec.shmr == "behroozi13" else relations.stellar_mass_moster13
        scatter = spec.shmr_scatter + spec.shmr_scatter_growth * max(0.0, 11.0 - log_m200)
        mstar = float(shmr(m200)) * 10 ** rng.normal(0.0, scatter)
        if not (spec.min_stellar_mass <= mstar <= MAX_STELLAR_MASS):
            continue
        if spec.n_stars_norm is not None:
            n_nominal = int(spec.n_stars_norm * np.sqrt(mstar / 1e6))
            m_particle = mstar / max(n_nominal, 1)
        else:
            m_particle = spec.particle_mass(m200)
            n_nominal = int(mstar / m_particle)
        if n_nominal < MIN_STAR_PARTICLES:
            continue
        c = float(relations.concentration_dm14(m200)) * 10 ** rng.normal(0.0, spec.concentration_scatter)
        r200 = float(relations.r200_kpc(m200))
        if spec.size_relation == "dwarfs":
            r_half = 4 / 3 * float(relations.half_light_radius_dwarfs(mstar)) * 10 ** rng.normal(0.0, spec.size_scatter)
        else:
            r_half = float(relations.half_mass_radius_kravtsov13(r200, spec.size_norm)) * 10 ** rng.normal(0.0, spec.size_scatter)
        x = float(np.log10(mstar / m200))
        halo = _halo(spec, m200, r200, c, x, r_half, rng)
        stars = _stars(spec, mstar, r_half, rng)
        total = Composite([halo, stars])
        try:
            df, retries = _draw_df(spec, stars, total, r_half, rng)
        except UnphysicalDF as exc:  # pragma: no cover - rare; redraw the galaxy
            log.info("suite %s galaxy %d: %s; redrawing", suite, index, exc)
            continue
        break
    else:  # pragma: no cover
        raise GalmassError(f"suite {suite}: could not draw galaxy {index}")
    params = {
        "suite": suite, "index": int(index), "seed": int(seed), "analogue": spec.analogue,
        "m200": m200, "r200": r200, "c200": c, "log_mstar_mhalo": x,
        "stellar_mass": mstar, "r_half_3d": r_half,
        "n_particles_nominal": n_nominal, "particle_mass": m_particle,
        "beta0": float(df.beta0), "r_a": float(df.r_a), "df_retries": int(retries),
        "dm_slope_1pc_r200": float(halo.log_slope(np.array(0.01 * r200))),
        "halo": halo.to_dict(), "stars": stars.to_dict(),
    }
    return GalaxyModel(suite, index, seed, halo, stars, total, df, rng, params)


def make_galaxy(suite: str, index: int, seed: int = 0, n_max_stars: int = 10_000) -> Galaxy:
    """Generate galaxy ``index`` of a mock ``suite`` (deterministic for ``seed``).

    Parameters
    ----------
    suite : str
        One of :data:`SUITES`.
    index : int
        Galaxy number within the suite.
    seed : int
        Suite seed.
    n_max_stars : int
        At most this many star particles are stored (each weighs M*/N); fewer when the
        suite's particle mass resolves the galaxy with fewer (the paper samples at most 1e4).
    """
    if n_max_stars < MIN_STAR_PARTICLES:
        raise GalmassError(f"n_max_stars must be >= {MIN_STAR_PARTICLES}, got {n_max_stars}")
    model = draw_model(suite, index, seed)
    p = model.params
    n_stars = min(p["n_particles_nominal"], n_max_stars)
    pos, vel = model.df.sample(n_stars, model.rng)
    spec = _spec(suite)
    mass_profile, shape_meta = model.total, {}
    if not spec.shape.spherical:
        pos, vel, mass_profile, shape_meta = shape_galaxy(pos, vel, model.halo, model.stars, p["r_half_3d"],
                                                          spec.shape, model.rng)
    meta = {**p, **shape_meta, "n_stars": int(n_stars),
            "r_half_proj_z": float(np.median(np.hypot(pos[:, 0], pos[:, 1])))}
    return Galaxy(
        name=f"{suite}_{index:06d}", suite=suite, star_pos=pos, star_vel=vel,
        star_mass=np.full(n_stars, p["stellar_mass"] / n_stars), mass_profile=mass_profile, meta=meta,
    )


def load_suite(name: str, n_galaxies: int, seed: int = 0, n_max_stars: int = 10_000) -> list[Galaxy]:
    """Generate ``n_galaxies`` galaxies of mock suite ``name`` in memory (deterministic).

    For thousands of galaxies use :func:`galmass.sources.storage.build_suite`, which runs on Dask
    and stores HDF5 shards; galaxy ``i`` is the same either way.
    """
    _spec(name)
    if n_galaxies < 0:
        raise GalmassError(f"n_galaxies must be >= 0, got {n_galaxies}")
    return [make_galaxy(name, i, seed, n_max_stars) for i in range(n_galaxies)]


def read_snapshot(path, **selection) -> list[Galaxy]:
    """Read the galaxies of a real simulation snapshot (see :func:`galmass.sources.snapshots.read_snapshot`)."""
    from galmass.sources.snapshots import read_snapshot as _read

    return _read(path, **selection)


def suite_summary(galaxies: list[Galaxy]) -> dict[str, np.ndarray]:
    """Per-galaxy quantities that make suites differ (arrays over galaxies).

    Keys: ``dm_slope`` (inner log-slope of the dark matter at 1% of r200), ``r_half``
    (projected half-number radius along z [kpc]), ``beta0``, ``r_a_over_rhalf``,
    ``n_stars``, ``log_mstar``, ``log_m_rh`` (log10 M(<R_h) [Msun]).
    """
    rh = np.array([g.meta["r_half_proj_z"] for g in galaxies])
    return {
        "dm_slope": np.array([g.meta["dm_slope_1pc_r200"] for g in galaxies]),
        "r_half": rh,
        "beta0": np.array([g.meta["beta0"] for g in galaxies]),
        "r_a_over_rhalf": np.array([g.meta["r_a"] / g.meta["r_half_3d"] for g in galaxies]),
        "n_stars": np.array([g.meta["n_particles_nominal"] for g in galaxies]),
        "log_mstar": np.log10([g.meta["stellar_mass"] for g in galaxies]),
        "log_m_rh": np.log10([float(g.enclosed_mass(r)) for g, r in zip(galaxies, rh)]),
    }
