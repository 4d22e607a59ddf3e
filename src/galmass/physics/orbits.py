"""Vectorised orbit integration in a static potential (issue #18): every star at once.

:func:`leapfrog` is the kick-drift-kick (velocity Verlet) scheme: symplectic, second order,
time-reversible, so the energy error stays bounded over many orbits. :func:`phase_mix`
integrates a population and records each star at its own random step of the second part of
the integration, so that a population started out of equilibrium in a non-spherical
potential is read out phase-mixed (a steady state in the limit of many orbital times).

Units: positions kpc, velocities km/s, accelerations km^2 s^-2 kpc^-1, times kpc / (km/s)
(= 0.9778 Gyr; :data:`KPC_PER_KMS_GYR`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from galmass.errors import GalmassError

__all__ = ["leapfrog", "phase_mix", "KPC_PER_KMS_GYR"]

#: One time unit, kpc / (km/s), in Gyr.
KPC_PER_KMS_GYR = 0.9777922216807891

Acceleration = Callable[[np.ndarray], np.ndarray]


def _check(pos, vel, dt, n_steps) -> tuple[np.ndarray, np.ndarray, float, int]:
    x = np.array(pos, dtype=float)
    v = np.array(vel, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3 or v.shape != x.shape:
        raise GalmassError(f"orbits: positions and velocities must both be (N, 3), got {x.shape} and {v.shape}")
    if not (np.isfinite(dt) and dt > 0) or int(n_steps) < 1:
        raise GalmassError(f"orbits: need dt > 0 and n_steps >= 1, got dt={dt!r}, n_steps={n_steps!r}")
    return x, v, float(dt), int(n_steps)


def leapfrog(pos, vel, acceleration: Acceleration, dt: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (N, 3) after ``n_steps`` kick-drift-kick steps of ``dt``.

    ``acceleration(pos (N, 3)) -> (N, 3)`` [km^2 s^-2 kpc^-1]; ``dt`` in kpc / (km/s).
    """
    x, v, dt, n = _check(pos, vel, dt, n_steps)
    a = acceleration(x)
    for _ in range(n):
        v += 0.5 * dt * a
        x += dt * v
        a = acceleration(x)
        v += 0.5 * dt * a
    return x, v


def phase_mix(pos, vel, acceleration: Acceleration, dt: float, n_steps: int, rng: np.random.Generator,
              burn_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate ``n_steps`` and read each star at its own random step after the burn-in.

    Each star ``i`` is recorded at step ``k_i``, uniform in ``[burn_fraction * n_steps,
    n_steps]`` (drawn from ``rng``). Returns positions, velocities (N, 3) and ``k`` (N,).
    """
    x, v, dt, n = _check(pos, vel, dt, n_steps)
    if not 0.0 <= burn_fraction < 1.0:
        raise GalmassError(f"phase_mix: burn_fraction must be in [0, 1), got {burn_fraction!r}")
    k = rng.integers(int(burn_fraction * n), n + 1, size=len(x))
    out_x, out_v = np.empty_like(x), np.empty_like(v)
    now = k == 0
    out_x[now], out_v[now] = x[now], v[now]
    a = acceleration(x)
    for step in range(1, int(k.max()) + 1 if len(k) else 1):
        v += 0.5 * dt * a
        x += dt * v
        a = acceleration(x)
        v += 0.5 * dt * a
        now = k == step
        if now.any():
            out_x[now], out_v[now] = x[now], v[now]
    return out_x, out_v, k
