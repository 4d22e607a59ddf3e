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

__all__ = ["leapfrog", "phase_mix", "phase_mix_ellipsoids", "KPC_PER_KMS_GYR"]

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


def _phase_mix_ellipsoids_py(x, v, k, dt, lr0, dlr, lm, s0, s1, ip2, iq2, gconst):
    """Star by star kick-drift-kick in a sum of tabulated ellipsoidal potentials (the kernel of
    :func:`phase_mix_ellipsoids`; compiled with numba when it is installed)."""
    n = x.shape[0]
    nc, nt = lm.shape
    out_x = np.empty_like(x)
    out_v = np.empty_like(v)
    a = np.empty(3)
    for i in range(n):
        x0, x1, x2 = x[i, 0], x[i, 1], x[i, 2]
        v0, v1, v2 = v[i, 0], v[i, 1], v[i, 2]
        for step in range(k[i] + 1):
            # acceleration at the current position
            a[0] = 0.0
            a[1] = 0.0
            a[2] = 0.0
            for c in range(nc):
                m2 = x0 * x0 + x1 * x1 * ip2[c] + x2 * x2 * iq2[c]
                lnm = 0.5 * np.log(max(m2, 1e-300))
                u = (lnm - lr0) / dlr
                if u < 0.0:
                    lnM = lm[c, 0] + s0[c] * (lnm - lr0)
                elif u >= nt - 1:
                    lnM = lm[c, nt - 1] + s1[c] * (lnm - lr0 - (nt - 1) * dlr)
                else:
                    j = int(u)
                    f = u - j
                    lnM = lm[c, j] * (1.0 - f) + lm[c, j + 1] * f
                g = gconst * np.exp(lnM - 3.0 * lnm)
                a[0] -= g * x0
                a[1] -= g * x1 * ip2[c]
                a[2] -= g * x2 * iq2[c]
            if step > 0:  # second half kick of the previous step
                v0 += 0.5 * dt * a[0]
                v1 += 0.5 * dt * a[1]
                v2 += 0.5 * dt * a[2]
            if step == k[i]:
                break
            v0 += 0.5 * dt * a[0]
            v1 += 0.5 * dt * a[1]
            v2 += 0.5 * dt * a[2]
            x0 += dt * v0
            x1 += dt * v1
            x2 += dt * v2
        out_x[i, 0], out_x[i, 1], out_x[i, 2] = x0, x1, x2
        out_v[i, 0], out_v[i, 1], out_v[i, 2] = v0, v1, v2
    return out_x, out_v


try:  # numba makes the star-by-star loop ~20x faster than numpy's array steps; optional
    import numba as _numba

    _phase_mix_ellipsoids_kernel = _numba.njit(cache=True, fastmath=False)(_phase_mix_ellipsoids_py)
except ImportError:  # pragma: no cover - numba is a dependency; pure Python still works
    _phase_mix_ellipsoids_kernel = _phase_mix_ellipsoids_py


def phase_mix_ellipsoids(pos, vel, tables, dt: float, n_steps: int, rng: np.random.Generator,
                         burn_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`phase_mix` in a sum of tabulated ellipsoidal potentials, star by star (compiled).

    ``tables`` is a :class:`galmass.physics.potentials.TabulatedEllipsoids` (``lr0``, ``dlr``,
    ``lm``, ``s0``, ``s1``, ``ip2``, ``iq2``, ``G``). Same steps, same readout draw and, up to
    floating-point rounding, the same orbits as :func:`phase_mix` with ``tables`` as the
    acceleration (tested).
    """
    x, v, dt, n = _check(pos, vel, dt, n_steps)
    if not 0.0 <= burn_fraction < 1.0:
        raise GalmassError(f"phase_mix: burn_fraction must be in [0, 1), got {burn_fraction!r}")
    k = rng.integers(int(burn_fraction * n), n + 1, size=len(x))
    t = tables
    out_x, out_v = _phase_mix_ellipsoids_kernel(
        x, v, k.astype(np.int64), dt, float(t.lr0), float(t.dlr), np.ascontiguousarray(t.lm),
        np.ascontiguousarray(t.s0), np.ascontiguousarray(t.s1), np.ascontiguousarray(t.ip2),
        np.ascontiguousarray(t.iq2), float(t.G))
    return out_x, out_v, k
