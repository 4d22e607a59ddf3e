"""The one record for a galaxy used by everything downstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.physics.profiles import MassProfile

__all__ = ["Galaxy"]


@dataclass
class Galaxy:
    """A galaxy: its star particles and its true total mass profile.

    Parameters
    ----------
    name : str
        Unique identifier within its suite.
    suite : str
        Name of the suite (mock suite name or ``"snapshot"``).
    star_pos : ndarray, shape (N, 3)
        Star-particle positions [kpc], centred on the galaxy.
    star_vel : ndarray, shape (N, 3)
        Star-particle velocities [km/s] in the galaxy's rest frame.
    star_mass : ndarray, shape (N,)
        Star-particle masses [Msun].
    mass_profile : MassProfile
        The true total (dark matter + stars + gas, as present) 3-D mass profile.
    meta : dict
        Physical parameters (halo, stars, anisotropy, provenance). JSON-serialisable.
    """

    name: str
    suite: str
    star_pos: np.ndarray
    star_vel: np.ndarray
    star_mass: np.ndarray
    mass_profile: MassProfile
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.star_pos = np.asarray(self.star_pos, dtype=float)
        self.star_vel = np.asarray(self.star_vel, dtype=float)
        self.star_mass = np.asarray(self.star_mass, dtype=float)
        n = len(self.star_mass)
        if self.star_pos.shape != (n, 3) or self.star_vel.shape != (n, 3):
            raise GalmassError(
                f"galaxy {self.name!r}: star_pos {self.star_pos.shape} and star_vel "
                f"{self.star_vel.shape} must both be (N, 3) with N = len(star_mass) = {n}"
            )
        if n == 0:
            raise GalmassError(f"galaxy {self.name!r} has no star particles")
        for label, arr in (("star_pos", self.star_pos), ("star_vel", self.star_vel),
                           ("star_mass", self.star_mass)):
            if not np.all(np.isfinite(arr)):
                raise GalmassError(f"galaxy {self.name!r}: {label} contains NaN or infinite values")
        if np.any(self.star_mass <= 0):
            raise GalmassError(f"galaxy {self.name!r}: star_mass must be positive")

    @property
    def n_stars(self) -> int:
        """Number of star particles."""
        return len(self.star_mass)

    @property
    def stellar_mass(self) -> float:
        """Total stellar mass [Msun] of the star particles."""
        return float(self.star_mass.sum())

    def enclosed_mass(self, r: np.ndarray | float) -> np.ndarray:
        """True total 3-D mass [Msun] within radius ``r`` [kpc] (vectorised)."""
        return self.mass_profile.enclosed_mass(np.asarray(r, dtype=float))

    def acceleration(self, pos: np.ndarray) -> np.ndarray:
        """Acceleration (..., 3) [km^2 s^-2 kpc^-1] of the true total potential at positions
        (..., 3) [kpc]: the mass profile's own (non-spherical profiles, e.g.
        :class:`~galmass.physics.potentials.NonSphericalMass`) or ``-G M(<r) x / r^3``."""
        if hasattr(self.mass_profile, "acceleration"):
            return self.mass_profile.acceleration(pos)
        x = np.asarray(pos, dtype=float)
        r = np.linalg.norm(x, axis=-1)
        return -G * np.asarray(self.enclosed_mass(r))[..., None] * x / np.maximum(r, 1e-300)[..., None] ** 3

    def __repr__(self) -> str:  # keep reprs short: arrays can be large
        return (f"Galaxy(name={self.name!r}, suite={self.suite!r}, n_stars={self.n_stars}, "
                f"stellar_mass={self.stellar_mass:.3g} Msun)")
