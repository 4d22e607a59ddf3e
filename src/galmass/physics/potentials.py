"""Non-spherical (axisymmetric or triaxial) potentials with closed-form forces (issue #18).

An *ellipsoidal potential* takes the potential of a spherical mass profile ``Phi_s(r)`` and
makes its equipotentials ellipsoids of axis ratios ``p = b/a`` and ``q = c/a``:

    Phi(x, y, z) = Phi_s(m),   m^2 = x^2 + (y / p)^2 + (z / q)^2.

Its acceleration is closed-form whenever ``M_s(r)`` is: with ``Phi_s'(m) = G M_s(m) / m^2``,

    a = -G M_s(m) / m^3 * (x, y / p^2, z / q^2)                     [km^2 s^-2 kpc^-1],

so a vectorised orbit integration costs a few array operations per step. The density follows
from Poisson's equation in closed form too (:meth:`EllipsoidalPotential.density`), and the
mass inside a *sphere* of radius r from Gauss's theorem,

    M(< r) = (r^2 / 4 pi G) * oint (-a . r_hat) dOmega = (r / 4 pi) * oint M_s(m) / m dOmega,

evaluated by a fixed Gauss-Legendre x trapezoid rule on the sphere (spectrally accurate for
these smooth integrands). The density is flattened more than the equipotentials (roughly
``1 - q_rho ~ 3 (1 - q_Phi)`` for mild flattening), and it turns negative somewhere when the
equipotentials are too flat: :meth:`EllipsoidalPotential.min_density_ratio` says how close a
potential is to that. Measured for an NFW halo (c = 12): equipotential axis ratio q = 0.9 stays
positive out to r200; q = 0.85 turns negative near 10 r_s, q = 0.8 near 4 r_s and q = 0.7 near
2 r_s, so strongly flattened halos are only physical over the region the stars explore. All lengths are kpc, masses Msun, velocities km/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from scipy.interpolate import CubicSpline

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.physics.profiles import MassProfile, profile_from_dict

__all__ = ["EllipsoidalPotential", "NonSphericalMass", "sphere_rule", "TabulatedEllipsoids"]


def sphere_rule(n_theta: int = 32, n_phi: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (K, 3) and weights (K,) summing to 4 pi: Gauss-Legendre in cos(theta),
    uniform (trapezoid, exact for trigonometric polynomials) in phi."""
    mu, w_mu = np.polynomial.legendre.leggauss(int(n_theta))
    phi = (np.arange(int(n_phi)) + 0.5) * 2 * np.pi / int(n_phi)
    s = np.sqrt(1 - mu**2)
    u = np.stack([np.outer(s, np.cos(phi)), np.outer(s, np.sin(phi)), np.outer(mu, np.ones_like(phi))], axis=-1)
    w = np.outer(w_mu, np.full(len(phi), 2 * np.pi / len(phi)))
    return u.reshape(-1, 3), w.reshape(-1)


class TabulatedEllipsoids:
    """A fast acceleration ``pos (N, 3) -> (N, 3)`` [km^2 s^-2 kpc^-1] of a sum of
    :class:`EllipsoidalPotential` components (body frame), for orbit integration.

    Each component's ``log M_s`` is tabulated on ``n`` log-spaced radii in
    ``[r_min, r_max]`` [kpc] and interpolated linearly in ``log m`` (relative error ~1e-5,
    measured in the tests); beyond the table ``M_s`` follows the power law of its first or last
    interval. The same tables drive the compiled integrator
    :func:`galmass.physics.orbits.phase_mix_ellipsoids`.
    """

    def __init__(self, components, r_min: float, r_max: float, n: int = 2000) -> None:
        if not (0 < r_min < r_max):
            raise GalmassError(f"TabulatedEllipsoids: need 0 < r_min < r_max, got {r_min!r}, {r_max!r}")
        lr = np.linspace(np.log(r_min), np.log(r_max), int(n))
        self.lr0, self.dlr, self.G = float(lr[0]), float(lr[1] - lr[0]), float(G)
        self.lr = lr
        self.lm = np.array([np.log(np.maximum(np.asarray(c.profile.enclosed_mass(np.exp(lr)), dtype=float), 1e-300))
                            for c in components])
        self.s0 = (self.lm[:, 1] - self.lm[:, 0]) / self.dlr
        self.s1 = (self.lm[:, -1] - self.lm[:, -2]) / self.dlr
        self.ip2 = np.array([1.0 / c.p**2 for c in components])
        self.iq2 = np.array([1.0 / c.q**2 for c in components])

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        x = np.asarray(pos, dtype=float)
        out = np.zeros_like(x)
        x2 = x * x
        lr = self.lr
        for c in range(len(self.lm)):
            lm = self.lm[c]
            m2 = x2[:, 0] + x2[:, 1] * self.ip2[c] + x2[:, 2] * self.iq2[c]
            lnm = 0.5 * np.log(np.maximum(m2, 1e-300))
            lnM = np.interp(lnm, lr, lm)
            lnM = np.where(lnm < lr[0], lm[0] + self.s0[c] * (lnm - lr[0]),
                           np.where(lnm > lr[-1], lm[-1] + self.s1[c] * (lnm - lr[-1]), lnM))
            g = self.G * np.exp(lnM - 3.0 * lnm)
            out -= g[:, None] * x * np.array([1.0, self.ip2[c], self.iq2[c]])
        return out


@dataclass(frozen=True)
class EllipsoidalPotential:
    """``Phi(x) = Phi_s(m)``, ``m^2 = x^2 + (y/p)^2 + (z/q)^2`` (module docstring).

    Parameters
    ----------
    profile : MassProfile
        The spherical profile whose potential is made ellipsoidal (``enclosed_mass`` [Msun]
        and ``density`` [Msun kpc^-3] of the radius [kpc]).
    p, q : float
        Axis ratios ``b/a`` and ``c/a`` of the equipotentials, ``0 < q <= p <= 1``
        (``p = q = 1``: the spherical profile itself; ``p = 1``: oblate about z).
    """

    profile: MassProfile
    p: float = 1.0
    q: float = 1.0

    def __post_init__(self) -> None:
        if not (0.0 < self.q <= self.p <= 1.0):
            raise GalmassError(f"EllipsoidalPotential: need 0 < q <= p <= 1, got p={self.p!r}, q={self.q!r}")

    # ------------------------------------------------------------------ geometry
    def _pos(self, pos) -> np.ndarray:
        x = np.asarray(pos, dtype=float)
        if x.shape[-1] != 3:
            raise GalmassError(f"positions must have shape (..., 3) [kpc], got {x.shape}")
        return x

    def ellipsoidal_radius(self, pos) -> np.ndarray:
        """``m`` [kpc] of positions (..., 3) [kpc]."""
        x = self._pos(pos)
        return np.sqrt(x[..., 0] ** 2 + (x[..., 1] / self.p) ** 2 + (x[..., 2] / self.q) ** 2)

    # ------------------------------------------------------------------ dynamics
    def acceleration(self, pos) -> np.ndarray:
        """Acceleration (..., 3) [km^2 s^-2 kpc^-1] at positions (..., 3) [kpc]."""
        x = self._pos(pos)
        m = self.ellipsoidal_radius(x)
        g = G * np.asarray(self.profile.enclosed_mass(m), dtype=float) / np.maximum(m, 1e-300) ** 3
        scale = np.array([1.0, 1.0 / self.p**2, 1.0 / self.q**2])
        return -g[..., None] * x * scale

    @cached_property
    def _phi_table(self) -> CubicSpline:
        """``Phi_s`` [km^2 s^-2] as a cubic spline of ``log r``, from ``-G int_r^inf M(s)/s^2 ds``."""
        r = np.logspace(-6, 6, 6001) * float(getattr(self.profile, "r_s", None) or 1.0)
        f = G * np.asarray(self.profile.enclosed_mass(r), dtype=float) / r**2
        # integrate in log r: int f dr = int f r dlnr; beyond the table, M is taken constant
        lr = np.log(r)
        seg = 0.5 * (f[1:] * r[1:] + f[:-1] * r[:-1]) * np.diff(lr)
        tail = f[-1] * r[-1]  # = G M(r_max) / r_max
        phi = -(np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]]) + tail)
        return CubicSpline(lr, phi)

    def potential(self, pos) -> np.ndarray:
        """Potential (...,) [km^2 s^-2] at positions (..., 3) [kpc] (zero at infinity;
        tabulated, relative accuracy ~1e-6)."""
        return self._phi_table(np.log(np.maximum(self.ellipsoidal_radius(pos), 1e-300)))

    # ------------------------------------------------------------------ mass
    def density(self, pos) -> np.ndarray:
        """Density (...,) [Msun kpc^-3] from Poisson's equation, ``laplacian(Phi) / (4 pi G)``.

        With ``g(m) = G M_s(m) / m^3`` and ``u = (x, y/p^2, z/q^2)``:
        ``4 pi G rho = g (1 + p^-2 + q^-2) + g'(m) |u|^2 / m``,
        ``g'(m) = G (4 pi rho_s(m) / m - 3 M_s(m) / m^4)``.
        """
        x = self._pos(pos)
        m = np.maximum(self.ellipsoidal_radius(x), 1e-300)
        M = np.asarray(self.profile.enclosed_mass(m), dtype=float)
        rho_s = np.asarray(self.profile.density(m), dtype=float)
        g = G * M / m**3
        dg = G * (4 * np.pi * rho_s / m - 3 * M / m**4)
        u2 = x[..., 0] ** 2 + x[..., 1] ** 2 / self.p**4 + x[..., 2] ** 2 / self.q**4
        lap = g * (1 + 1 / self.p**2 + 1 / self.q**2) + dg * u2 / m
        return lap / (4 * np.pi * G)

    def enclosed_mass(self, r, n_theta: int = 32, n_phi: int = 64) -> np.ndarray:
        """Total mass [Msun] inside spheres of radii ``r`` [kpc], by Gauss's theorem."""
        r = np.asarray(r, dtype=float)
        u, w = sphere_rule(n_theta, n_phi)
        m_unit = self.ellipsoidal_radius(u)  # m of the unit vectors; m(r u) = r m(u)
        rr = r.reshape(-1, 1)
        m = rr * m_unit[None, :]
        M = np.asarray(self.profile.enclosed_mass(m), dtype=float)
        out = rr[:, 0] / (4 * np.pi) * np.sum(w[None, :] * M / m, axis=1)
        return out.reshape(r.shape)

    def min_density_ratio(self, radii) -> float:
        """Smallest ``rho / rho_s(m)`` over the sphere rule at ``radii`` [kpc]: below 0 the
        potential needs a negative density there (too flat for a physical mass)."""
        u, _ = sphere_rule(16, 32)
        pos = np.asarray(radii, dtype=float).reshape(-1, 1, 1) * u[None]
        rho = self.density(pos)
        rho_s = np.asarray(self.profile.density(self.ellipsoidal_radius(pos)), dtype=float)
        return float(np.min(rho / rho_s))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (see :class:`NonSphericalMass`)."""
        return {"profile": self.profile.to_dict(), "p": float(self.p), "q": float(self.q)}


@dataclass
class NonSphericalMass(MassProfile):
    """The true total mass of a non-spherical galaxy: a sum of ellipsoidal potentials (for
    example a flattened halo and a flatter stellar body), stored with the galaxy like any
    :class:`~galmass.physics.profiles.MassProfile`.

    ``enclosed_mass(r)`` keeps its meaning, the total mass inside the 3-D *sphere* of radius r
    (Gauss's theorem, :meth:`EllipsoidalPotential.enclosed_mass`); ``density(r)`` is the
    density averaged over that sphere; :meth:`acceleration` is the total acceleration.

    ``orientation`` (3, 3) is the rotation whose columns are the body axes (long, middle,
    short) in the galaxy's frame: a galaxy-frame position ``x`` has body coordinates
    ``x @ orientation``. Spherical quantities do not depend on it.
    """

    kind: ClassVar[str] = "ellipsoidal"
    components: list[EllipsoidalPotential] = field(default_factory=list)
    orientation: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.components or not all(isinstance(c, EllipsoidalPotential) for c in self.components):
            raise GalmassError("NonSphericalMass: give a non-empty list of EllipsoidalPotential components")
        R = np.eye(3) if self.orientation is None else np.asarray(self.orientation, dtype=float)
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-8) or np.linalg.det(R) < 0:
            raise GalmassError("NonSphericalMass: orientation must be a proper rotation matrix (3, 3)")
        self.orientation = R

    def to_body(self, pos) -> np.ndarray:
        """Body-frame coordinates (..., 3) of galaxy-frame vectors (..., 3)."""
        return np.asarray(pos, dtype=float) @ self.orientation

    def acceleration(self, pos) -> np.ndarray:
        """Total acceleration (..., 3) [km^2 s^-2 kpc^-1] at galaxy-frame positions (..., 3) [kpc]."""
        xb = self.to_body(pos)
        return sum(c.acceleration(xb) for c in self.components) @ self.orientation.T

    def potential(self, pos) -> np.ndarray:
        """Total potential (...,) [km^2 s^-2], zero at infinity."""
        xb = self.to_body(pos)
        return sum(c.potential(xb) for c in self.components)

    def enclosed_mass(self, r):
        return sum(c.enclosed_mass(r) for c in self.components)

    def density(self, r):
        r = np.asarray(r, dtype=float)
        u, w = sphere_rule(16, 32)
        pos = r.reshape(-1, 1, 1) * u[None]
        rho = sum(c.density(pos) for c in self.components)
        return (np.sum(w * rho, axis=1) / (4 * np.pi)).reshape(r.shape)

    def min_density_ratio(self, radii) -> float:
        """Smallest total density over the sphere-rule points at ``radii`` [kpc], relative to
        the spherical profiles' total there: below 0 the shape needs a negative density."""
        u, _ = sphere_rule(16, 32)
        pos = np.asarray(radii, dtype=float).reshape(-1, 1, 1) * u[None]
        rho = sum(c.density(pos) for c in self.components)
        ref = sum(np.asarray(c.profile.density(c.ellipsoidal_radius(pos)), dtype=float) for c in self.components)
        return float(np.min(rho / ref))

    def fast_acceleration(self, r_min: float, r_max: float) -> TabulatedEllipsoids:
        """Tabulated body-frame acceleration on ``[r_min, r_max]`` [kpc] for orbit integration."""
        return TabulatedEllipsoids(self.components, r_min, r_max)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "components": [c.to_dict() for c in self.components],
                "orientation": self.orientation.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NonSphericalMass":
        """Inverse of :meth:`to_dict` (without ``kind``)."""
        return cls([EllipsoidalPotential(profile_from_dict(c["profile"]), c["p"], c["q"])
                    for c in d["components"]], orientation=d.get("orientation"))
