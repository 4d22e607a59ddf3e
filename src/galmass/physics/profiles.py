"""Spherical mass profiles: dark-matter halos, stellar tracers and particle profiles.

All radii are in kpc, masses in Msun and densities in Msun / kpc^3. Every profile
provides ``density(r)`` and ``enclosed_mass(r)`` (vectorised over ``r``) and can be turned
into a JSON-serialisable dict with :meth:`MassProfile.to_dict` and back with
:func:`profile_from_dict`, which is how mock galaxies keep their exact truth in HDF5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import special

from galmass.errors import GalmassError

__all__ = [
    "MassProfile",
    "Tracer",
    "NFW",
    "Zhao",
    "CoreNFW",
    "CoreNFWTides",
    "Plummer",
    "Dehnen",
    "Einasto",
    "Sersic",
    "Composite",
    "ParticleMass",
    "TabulatedMass",
    "profile_from_dict",
    "zhao_enclosed_mass_unit",
]

_REGISTRY: dict[str, type["MassProfile"]] = {}


def _check_positive(name: str, **values: float) -> None:
    for key, val in values.items():
        if not np.isfinite(val) or val <= 0:
            raise GalmassError(f"{name}: parameter {key} must be finite and positive, got {val!r}")


class MassProfile:
    """Base class of spherical mass profiles (radii in kpc, masses in Msun)."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    def density(self, r: np.ndarray) -> np.ndarray:
        """Mass density [Msun/kpc^3] at radius ``r`` [kpc]."""
        raise NotImplementedError

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        """Mass [Msun] within the sphere of radius ``r`` [kpc]."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description, inverse of :func:`profile_from_dict`."""
        d = {k: (float(v) if isinstance(v, (float, np.floating, int)) else v)
             for k, v in asdict(self).items()}  # type: ignore[call-overload]
        return {"kind": self.kind, **d}

    def log_slope(self, r: np.ndarray) -> np.ndarray:
        """Logarithmic density slope d ln(rho) / d ln(r) at ``r`` (numerical)."""
        r = np.asarray(r, dtype=float)
        h = 1e-4
        return (np.log(self.density(r * np.exp(h))) - np.log(self.density(r * np.exp(-h)))) / (2 * h)


class Tracer(MassProfile):
    """A stellar profile that can also be sampled (finite total ``mass``)."""

    mass: float

    def radius_quantile(self, u: np.ndarray) -> np.ndarray:
        """Radius [kpc] enclosing the fraction ``u`` of the total mass (inverse CDF)."""
        raise NotImplementedError

    @property
    def r_half(self) -> float:
        """3-D half-mass radius [kpc]."""
        return float(self.radius_quantile(np.array(0.5)))

    def sample_radii(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` radii [kpc] distributed as the density."""
        return self.radius_quantile(rng.uniform(0.0, 1.0, n))


# --------------------------------------------------------------------------- halos
def _nfw_m(x: np.ndarray) -> np.ndarray:
    """ln(1+x) - x/(1+x), accurate at small x."""
    x = np.asarray(x, dtype=float)
    return np.log1p(x) - x / (1.0 + x)


@dataclass
class NFW(MassProfile):
    """Navarro, Frenk & White (1997) halo.

    ``rho(r) = rho_s / [(r/r_s) (1 + r/r_s)^2]`` with ``r_s = r200 / c``, normalised so that
    the mass within ``r200`` [kpc] is ``m200`` [Msun].
    """

    kind: ClassVar[str] = "nfw"
    m200: float
    r200: float
    c: float

    def __post_init__(self) -> None:
        _check_positive("NFW", m200=self.m200, r200=self.r200, c=self.c)
        self.r_s = self.r200 / self.c
        self.rho_s = self.m200 / (4 * np.pi * self.r_s**3 * _nfw_m(self.c))

    def density(self, r):
        x = np.asarray(r, dtype=float) / self.r_s
        return self.rho_s / (x * (1 + x) ** 2)

    def enclosed_mass(self, r):
        x = np.asarray(r, dtype=float) / self.r_s
        return 4 * np.pi * self.rho_s * self.r_s**3 * _nfw_m(x)

    def to_dict(self):
        return {"kind": self.kind, "m200": float(self.m200), "r200": float(self.r200), "c": float(self.c)}


def zhao_enclosed_mass_unit(x: np.ndarray, alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Dimensionless mass ``int_0^x s^(2-gamma) (1 + s^alpha)^(-(beta-gamma)/alpha) ds``.

    Closed form through the Gauss hypergeometric function, written after a Pfaff
    transformation so that its argument ``t = x^a / (1 + x^a)`` lies in [0, 1).
    """
    x = np.asarray(x, dtype=float)
    a = (3.0 - gamma) / alpha
    b = (beta - gamma) / alpha
    xa = x**alpha
    t = xa / (1.0 + xa)
    # 2F1(a, b; a+1; -z) = (1+z)^(-b) 2F1(1, b; a+1; z/(1+z))
    return x ** (3.0 - gamma) / (3.0 - gamma) * (1.0 + xa) ** (-b) * special.hyp2f1(1.0, b, a + 1.0, t)


@dataclass
class Zhao(MassProfile):
    """Double power-law (alpha, beta, gamma) halo (Zhao 1996), as used by Di Cintio et al. 2014.

    ``rho(r) = rho_s / [(r/r_s)^gamma (1 + (r/r_s)^alpha)^((beta-gamma)/alpha)]``,
    normalised so that the mass within ``r200`` [kpc] is ``m200`` [Msun].
    """

    kind: ClassVar[str] = "zhao"
    m200: float
    r200: float
    r_s: float
    alpha: float
    beta: float
    gamma: float

    def __post_init__(self) -> None:
        _check_positive("Zhao", m200=self.m200, r200=self.r200, r_s=self.r_s, alpha=self.alpha)
        if not (0 <= self.gamma < 3) or not (self.beta > 2):
            raise GalmassError(f"Zhao: need 0 <= gamma < 3 and beta > 2, got gamma={self.gamma}, beta={self.beta}")
        self.rho_s = self.m200 / (4 * np.pi * self.r_s**3 * zhao_enclosed_mass_unit(
            self.r200 / self.r_s, self.alpha, self.beta, self.gamma))

    def density(self, r):
        x = np.asarray(r, dtype=float) / self.r_s
        return self.rho_s / (x**self.gamma * (1 + x**self.alpha) ** ((self.beta - self.gamma) / self.alpha))

    def enclosed_mass(self, r):
        x = np.asarray(r, dtype=float) / self.r_s
        return 4 * np.pi * self.rho_s * self.r_s**3 * zhao_enclosed_mass_unit(x, self.alpha, self.beta, self.gamma)

    def to_dict(self):
        return {"kind": self.kind, **{k: float(getattr(self, k)) for k in
                                      ("m200", "r200", "r_s", "alpha", "beta", "gamma")}}


@dataclass
class CoreNFW(MassProfile):
    """The coreNFW halo of Read et al. (2016, MNRAS 459, 2573).

    ``M(<r) = M_NFW(<r) f^n`` with ``f = tanh(r / r_c)``; ``n`` in [0, 1] sets how complete the
    core is (0: NFW cusp, 1: full core of size ``r_c`` [kpc]).
    """

    kind: ClassVar[str] = "corenfw"
    m200: float
    r200: float
    c: float
    r_c: float
    n: float

    def __post_init__(self) -> None:
        _check_positive("CoreNFW", r_c=self.r_c)
        if not (0 <= self.n <= 1):
            raise GalmassError(f"CoreNFW: n must be in [0, 1], got {self.n}")
        self._nfw = NFW(self.m200, self.r200, self.c)

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        return self._nfw.enclosed_mass(r) * np.tanh(r / self.r_c) ** self.n

    def density(self, r):
        r = np.asarray(r, dtype=float)
        f = np.tanh(r / self.r_c)
        extra = self.n * f ** (self.n - 1) * (1 - f**2) / (4 * np.pi * r**2 * self.r_c)
        return f**self.n * self._nfw.density(r) + extra * self._nfw.enclosed_mass(r)


@dataclass
class CoreNFWTides(MassProfile):
    """The coreNFWtides halo of Read et al. (2018, MNRAS 481, 860): a :class:`CoreNFW` inside
    the tidal radius ``r_t`` [kpc], a power law ``rho(r_t) (r / r_t)^-delta`` (``delta > 3``)
    outside it, as a satellite's halo stripped by its host.
    """

    kind: ClassVar[str] = "corenfwtides"
    m200: float
    r200: float
    c: float
    r_c: float
    n: float
    r_t: float
    delta: float

    def __post_init__(self) -> None:
        _check_positive("CoreNFWTides", r_t=self.r_t)
        if not self.delta > 3:
            raise GalmassError(f"CoreNFWTides: delta must be > 3 (finite mass), got {self.delta}")
        self._inner = CoreNFW(self.m200, self.r200, self.c, self.r_c, self.n)
        self._m_t = float(self._inner.enclosed_mass(np.array(self.r_t)))
        self._rho_t = float(self._inner.density(np.array(self.r_t)))

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        x = np.maximum(r / self.r_t, 1.0)
        outer = self._m_t + 4 * np.pi * self._rho_t * self.r_t**3 * (x ** (3 - self.delta) - 1) / (3 - self.delta)
        return np.where(r <= self.r_t, self._inner.enclosed_mass(np.minimum(r, self.r_t)), outer)

    def density(self, r):
        r = np.asarray(r, dtype=float)
        outer = self._rho_t * (np.maximum(r, self.r_t) / self.r_t) ** -self.delta
        return np.where(r <= self.r_t, self._inner.density(np.minimum(r, self.r_t)), outer)


# --------------------------------------------------------------------------- tracers
@dataclass
class Plummer(Tracer):
    """Plummer (1911) sphere of total ``mass`` [Msun] and scale radius ``a`` [kpc].

    Its projected half-mass radius equals ``a``.
    """

    kind: ClassVar[str] = "plummer"
    mass: float
    a: float

    def __post_init__(self) -> None:
        _check_positive("Plummer", mass=self.mass, a=self.a)

    def density(self, r):
        r = np.asarray(r, dtype=float)
        return 3 * self.mass / (4 * np.pi * self.a**3) * (1 + (r / self.a) ** 2) ** -2.5

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        return self.mass * r**3 / (r**2 + self.a**2) ** 1.5

    def radius_quantile(self, u):
        u = np.asarray(u, dtype=float)
        return self.a / np.sqrt(u ** (-2.0 / 3.0) - 1.0)


@dataclass
class Dehnen(Tracer):
    """Dehnen (1993) sphere: ``rho ~ r^-gamma (r + a)^(gamma-4)``; gamma = 1 is Hernquist (1990)."""

    kind: ClassVar[str] = "dehnen"
    mass: float
    a: float
    gamma: float

    def __post_init__(self) -> None:
        _check_positive("Dehnen", mass=self.mass, a=self.a)
        if not (0 <= self.gamma < 3):
            raise GalmassError(f"Dehnen: gamma must be in [0, 3), got {self.gamma}")

    def density(self, r):
        r = np.asarray(r, dtype=float)
        g = self.gamma
        return (3 - g) * self.mass / (4 * np.pi) * self.a / (r**g * (r + self.a) ** (4 - g))

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        return self.mass * (r / (r + self.a)) ** (3 - self.gamma)

    def radius_quantile(self, u):
        q = np.asarray(u, dtype=float) ** (1.0 / (3 - self.gamma))
        return self.a * q / (1.0 - q)


@dataclass
class Einasto(Tracer):
    """Einasto (1965) sphere: ``rho ~ exp(-(r/h)^(1/n))`` with total ``mass`` [Msun].

    ``M(<r) = mass * P(3n, (r/h)^(1/n))`` with P the regularised lower incomplete gamma function.
    """

    kind: ClassVar[str] = "einasto"
    mass: float
    h: float
    n: float

    def __post_init__(self) -> None:
        _check_positive("Einasto", mass=self.mass, h=self.h, n=self.n)

    def density(self, r):
        r = np.asarray(r, dtype=float)
        rho0 = self.mass / (4 * np.pi * self.h**3 * self.n * special.gamma(3 * self.n))
        return rho0 * np.exp(-((r / self.h) ** (1.0 / self.n)))

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        return self.mass * special.gammainc(3 * self.n, (r / self.h) ** (1.0 / self.n))

    def radius_quantile(self, u):
        return self.h * special.gammaincinv(3 * self.n, np.asarray(u, dtype=float)) ** self.n


@dataclass
class Sersic(Tracer):
    """Deprojected Sérsic sphere in the Prugniel & Simien (1997, A&A 321, 111) approximation.

    ``rho(r) = rho0 (r/r_e)^-p exp(-b (r/r_e)^(1/n))`` with Sérsic index ``n``, projected
    effective radius ``r_e`` [kpc], ``b = 2n - 1/3 + 0.009876/n`` and the inner cusp
    ``p = 1 - 0.6097/n + 0.05463/n^2`` (Lima Neto et al. 1999);
    ``M(<r) = mass * P((3-p) n, b (r/r_e)^(1/n))``. Exponential outskirts (finite
    second moments) with a Hernquist-like inner cusp.
    """

    kind: ClassVar[str] = "sersic"
    mass: float
    r_e: float
    n: float

    def __post_init__(self) -> None:
        _check_positive("Sersic", mass=self.mass, r_e=self.r_e, n=self.n)
        if not (0.6 <= self.n <= 10):
            raise GalmassError(f"Sersic: index n must be in [0.6, 10], got {self.n}")

    @property
    def b(self) -> float:
        return 2 * self.n - 1 / 3 + 0.009876 / self.n

    @property
    def p(self) -> float:
        """Inner logarithmic density slope (cusp) of the deprojection."""
        return 1 - 0.6097 / self.n + 0.05463 / self.n**2

    def density(self, r):
        x = np.asarray(r, dtype=float) / self.r_e
        k = (3 - self.p) * self.n
        rho0 = self.mass * self.b**k / (4 * np.pi * self.r_e**3 * self.n * special.gamma(k))
        return rho0 * x ** (-self.p) * np.exp(-self.b * x ** (1 / self.n))

    def enclosed_mass(self, r):
        x = np.asarray(r, dtype=float) / self.r_e
        return self.mass * special.gammainc((3 - self.p) * self.n, self.b * x ** (1 / self.n))

    def radius_quantile(self, u):
        g = special.gammaincinv((3 - self.p) * self.n, np.asarray(u, dtype=float))
        return self.r_e * (g / self.b) ** self.n


# --------------------------------------------------------------------------- containers
@dataclass
class Composite(MassProfile):
    """Sum of components (e.g. dark-matter halo + stars)."""

    kind: ClassVar[str] = "composite"
    components: list[MassProfile] = field(default_factory=list)

    def density(self, r):
        return sum(c.density(r) for c in self.components)

    def enclosed_mass(self, r):
        return sum(c.enclosed_mass(r) for c in self.components)

    def to_dict(self):
        return {"kind": self.kind, "components": [c.to_dict() for c in self.components]}


class ParticleMass(MassProfile):
    """Exact enclosed mass of a set of particles: ``M(<r) = sum of m_i with r_i <= r``.

    Parameters
    ----------
    radii : ndarray
        Particle distances from the centre [kpc].
    masses : ndarray
        Particle masses [Msun].
    """

    kind: ClassVar[str] = "particles"

    def __init__(self, radii: np.ndarray, masses: np.ndarray) -> None:
        radii = np.asarray(radii, dtype=float)
        masses = np.broadcast_to(np.asarray(masses, dtype=float), radii.shape)
        if not (np.all(np.isfinite(radii)) and np.all(np.isfinite(masses))):
            raise GalmassError("ParticleMass: radii and masses must be finite")
        order = np.argsort(radii, kind="stable")
        self.radii = radii[order]
        self.cum_mass = np.cumsum(masses[order])

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        idx = np.searchsorted(self.radii, r, side="right")
        return np.where(idx > 0, self.cum_mass[np.maximum(idx - 1, 0)], 0.0)

    def density(self, r):
        """Shell-averaged density from the particles (for diagnostics only)."""
        r = np.asarray(r, dtype=float)
        lo, hi = r / 1.2, r * 1.2
        return (self.enclosed_mass(hi) - self.enclosed_mass(lo)) / (4 / 3 * np.pi * (hi**3 - lo**3))

    def to_dict(self):
        masses = np.diff(self.cum_mass, prepend=0.0)
        return {"kind": self.kind, "radii": self.radii.tolist(), "masses": masses.tolist()}


@dataclass
class TabulatedMass(MassProfile):
    """A mass profile known on a grid: ``M(<r)`` [Msun] at ``radii`` [kpc], interpolated linearly
    in log-log (``M ~ r^3`` inside the first radius, constant beyond the last)."""

    kind: ClassVar[str] = "tabulated"
    radii: list
    masses: list

    def __post_init__(self) -> None:
        r, m = np.asarray(self.radii, dtype=float), np.asarray(self.masses, dtype=float)
        if r.ndim != 1 or r.shape != m.shape or len(r) < 2 or np.any(np.diff(r) <= 0) or np.any(m <= 0) \
                or np.any(np.diff(m) < 0):
            raise GalmassError("TabulatedMass: need increasing radii and positive, non-decreasing masses")
        self.radii, self.masses = r.tolist(), m.tolist()
        self._lr, self._lm = np.log(r), np.log(m)

    def enclosed_mass(self, r):
        r = np.asarray(r, dtype=float)
        lr = np.log(np.maximum(r, 1e-300))
        inner = self._lm[0] + 3.0 * (lr - self._lr[0])
        return np.exp(np.where(lr < self._lr[0], inner, np.interp(lr, self._lr, self._lm)))

    def density(self, r):
        r = np.asarray(r, dtype=float)
        h = 1e-4
        dm = self.enclosed_mass(r * np.exp(h)) - self.enclosed_mass(r * np.exp(-h))
        return dm / (4 * np.pi * r**3 * 2 * h)


def profile_from_dict(d: dict[str, Any]) -> MassProfile:
    """Rebuild a profile from :meth:`MassProfile.to_dict` output."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in _REGISTRY:
        raise GalmassError(f"unknown mass profile kind {kind!r}; known: {sorted(_REGISTRY)}")
    cls = _REGISTRY[kind]
    if cls is Composite:
        return Composite([profile_from_dict(c) for c in d["components"]])
    if hasattr(cls, "from_dict"):  # e.g. galmass.physics.potentials.NonSphericalMass
        return cls.from_dict(d)
    return cls(**d)
