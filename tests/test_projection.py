"""Tests of galmass.observe.projection: directions, rotations, sub-sampling, summaries, labels."""

from __future__ import annotations

import numpy as np
import pytest

try:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from plummer import isotropic_unit_vectors, plummer_radii, sample_plummer
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.plummer import isotropic_unit_vectors, plummer_radii, sample_plummer

from galmass.constants import G, RADII_F
from galmass.errors import GalmassError
from galmass.sources.galaxy import Galaxy
from galmass.physics.profiles import Plummer
from galmass.observe.projection import (
                                        Projection,
                                        fibonacci_directions,
                                        project,
                                        project_all,
                                        r_half_projected,
                                        rotation_to,
                                        sigma_los,
                                        subsample_size,
                                        v_p98,
                                        )

M_PL = 1e8  # Msun
A_PL = 0.5  # kpc


@pytest.fixture(scope="module")
def plummer_galaxy() -> Galaxy:
    """1e5-star self-consistent isotropic Plummer sphere with its exact mass profile."""
    rng = np.random.default_rng(20250101)
    pos, vel = sample_plummer(100_000, M_PL, A_PL, rng)
    return Galaxy(name="plummer", suite="test", star_pos=pos, star_vel=vel,
                  star_mass=np.full(len(pos), M_PL / len(pos)),
                  mass_profile=Plummer(M_PL, A_PL))


def small_galaxy(n: int, seed: int = 0, name: str = "small") -> Galaxy:
    rng = np.random.default_rng(seed)
    pos, vel = sample_plummer(n, 1e7, 0.3, rng)
    return Galaxy(name=name, suite="test", star_pos=pos, star_vel=vel,
                  star_mass=np.full(n, 1e7 / n), mass_profile=Plummer(1e7, 0.3))


# --------------------------------------------------------------------------- directions
def test_fibonacci_unit_and_uniform():
    d = fibonacci_directions(64)
    assert d.shape == (64, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    assert np.linalg.norm(d.mean(axis=0)) < 2e-3          # measured 1.6e-3
    # second-moment tensor ~ I/3 (isotropy), measured max deviation 9e-4
    np.testing.assert_allclose(d.T @ d / 64, np.eye(3) / 3, atol=1.5e-3)
    # equal areas: each hemisphere (along any axis) holds half of the points
    for axis in np.eye(3):
        assert abs(np.sum(d @ axis > 0) - 32) <= 2
    assert len(np.unique(np.round(d, 12), axis=0)) == 64
    np.testing.assert_array_equal(d, fibonacci_directions(64))  # deterministic


def test_fibonacci_bad_n():
    with pytest.raises(GalmassError):
        fibonacci_directions(0)
    with pytest.raises(GalmassError):
        fibonacci_directions(2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", [
    *fibonacci_directions(16), [0, 0, 1], [0, 0, -1], [0, 0, 3.0], [1e-14, 0, -1], [1, 0, 0],
])
def test_rotation_to(direction):
    d = np.asarray(direction, dtype=float)
    rot = rotation_to(d)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(rot @ (d / np.linalg.norm(d)), [0, 0, 1], atol=1e-12)


def test_rotation_conventions():
    np.testing.assert_allclose(rotation_to([0, 0, 1]), np.eye(3), atol=1e-15)
    # line of sight along x: sky x = galaxy y (east), sky y = galaxy z (north)
    np.testing.assert_allclose(rotation_to([1, 0, 0]), [[0, 1, 0], [0, 0, 1], [1, 0, 0]], atol=1e-15)
    with pytest.raises(GalmassError):
        rotation_to([0, 0, 0])
    with pytest.raises(GalmassError):
        rotation_to([np.nan, 0, 1])
    with pytest.raises(GalmassError):
        rotation_to([1, 0])


# --------------------------------------------------------------------------- sub-sampling
def test_subsample_size_rule():
    assert subsample_size(50) == 50
    assert subsample_size(199) == 199
    assert subsample_size(200) == 200
    assert subsample_size(5_000) == 5_000
    assert subsample_size(10_000) == 10_000
    assert subsample_size(10_001) == 10_000
    assert subsample_size(10**7) == 10_000
    # with a fraction the size grows slowly between n_min and n_max
    assert subsample_size(150, fraction=0.1) == 150
    assert subsample_size(1_000, fraction=0.1) == 200
    assert subsample_size(50_000, fraction=0.1) == 5_000
    assert subsample_size(500_000, fraction=0.1) == 10_000
    sizes = [subsample_size(n, fraction=0.1) for n in range(1, 300_000, 997)]
    assert all(np.diff(sizes) >= 0)
    with pytest.raises(GalmassError):
        subsample_size(0)
    with pytest.raises(GalmassError):
        subsample_size(100, n_min=500, n_max=100)
    with pytest.raises(GalmassError):
        subsample_size(100, fraction=0.0)


def star_indices(p: Projection, galaxy: Galaxy) -> np.ndarray:
    """Indices in ``galaxy`` of the stars of projection ``p`` (matched by sky position)."""
    sky = galaxy.star_pos @ rotation_to(p.direction)[:2].T
    lookup = {(round(a, 9), round(b, 9)): i for i, (a, b) in enumerate(sky)}
    return np.array([lookup[(round(a, 9), round(b, 9))] for a, b in zip(p.x, p.y)])


def test_project_subsamples_without_replacement(plummer_galaxy):
    rng = np.random.default_rng(3)
    p = project(plummer_galaxy, [0.2, 0.3, 1], rng)
    assert p.n_stars == 10_000  # capped at 1e4
    idx = star_indices(p, plummer_galaxy)
    assert len(np.unique(idx)) == 10_000  # without replacement
    assert project(plummer_galaxy, [0, 0, 1], rng, n_sample=500).n_stars == 500
    g = small_galaxy(150)
    q = project(g, [1, 1, 1], np.random.default_rng(0))
    assert q.n_stars == 150  # all stars below 200
    np.testing.assert_array_equal(np.sort(star_indices(q, g)), np.arange(150))
    g = small_galaxy(5_000)
    assert project(g, [1, 0, 0], np.random.default_rng(0)).n_stars == 5_000


def test_project_geometry_and_record(plummer_galaxy):
    d = np.array([0.3, -0.4, 0.5])
    p = project(plummer_galaxy, d, np.random.default_rng(1), n_sample=2_000, los_index=7)
    assert isinstance(p, Projection)
    assert p.los_index == 7 and p.galaxy_name == "plummer"
    np.testing.assert_allclose(p.direction, d / np.linalg.norm(d))
    assert abs(p.v_los.mean()) < 1e-9
    assert p.sigma_los == pytest.approx(sigma_los(p.v_los))
    assert p.v_p98 == pytest.approx(np.percentile(np.abs(p.v_los), 98))
    assert p.r_half == pytest.approx(np.median(p.R))
    assert p.x.dtype == p.y.dtype == p.v_los.dtype == np.float64
    np.testing.assert_array_equal(p.radii_f, RADII_F)
    np.testing.assert_allclose(p.radii, RADII_F * p.r_half)
    assert "n_stars=2000" in repr(p)


def test_project_all():
    g = small_galaxy(3_000)
    ps = project_all(g, 8, np.random.default_rng(2), n_sample=300)
    assert [p.los_index for p in ps] == list(range(8))
    np.testing.assert_allclose([p.direction for p in ps], fibonacci_directions(8), atol=1e-12)
    sets = [set(star_indices(p, g)) for p in ps]
    assert all(len(s) == 300 for s in sets) and sets[0] != sets[1]  # fresh sub-sample each
    shared = project_all(g, 4, np.random.default_rng(2), n_sample=300,
                         resample=False)
    sets = [set(star_indices(p, g)) for p in shared]
    assert all(s == sets[0] for s in sets) and len(sets[0]) == 300  # one shared sub-sample


def test_reproducible(plummer_galaxy):
    a = project(plummer_galaxy, [1, 2, 3], np.random.default_rng(9))
    b = project(plummer_galaxy, [1, 2, 3], np.random.default_rng(9))
    np.testing.assert_array_equal(a.v_los, b.v_los)


# --------------------------------------------------------------------------- physics
def test_r_half_of_plummer_is_a():
    rng = np.random.default_rng(11)
    n = 100_000
    pos = plummer_radii(n, A_PL, rng)[:, None] * isotropic_unit_vectors(n, rng)
    r_h = r_half_projected(pos[:, 0], pos[:, 1])
    assert r_h / A_PL == pytest.approx(1.0, abs=0.01)  # statistical error 0.3 %


def test_sigma_los_of_isotropic_plummer(plummer_galaxy):
    """Mass-weighted LOS dispersion of an isotropic Plummer sphere: sigma^2 = (pi/32) G M / a.

    (From the virial theorem, <v^2> = |W| / M = (3 pi / 32) G M / a and sigma_los^2 = <v^2>/3;
    (3 pi / 64) G M / a is the *central* projected value sigma_p^2(R=0).)
    """
    expected = np.sqrt(np.pi / 32 * G * M_PL / A_PL)
    for d in ([0, 0, 1], [1, 0, 0], [0.6, 0.0, 0.8]):
        p = project(plummer_galaxy, d, np.random.default_rng(0), n_sample=plummer_galaxy.n_stars)
        assert p.n_stars == 100_000
        assert p.sigma_los / expected == pytest.approx(1.0, abs=0.01)
        assert p.r_half / A_PL == pytest.approx(1.0, abs=0.01)
    # central dispersion: sigma_p^2(R) = (3 pi / 64) G M / sqrt(a^2 + R^2); its surface-density
    # weighted mean inside X = 0.2 a is (pi/32) [1 - (1+X^2)^-1.5] / [1 - (1+X^2)^-1] G M / a
    x_ap = 0.2
    central = p.v_los[p.R < x_ap * A_PL]  # ~3800 stars: 2.3 % statistical error
    expected_c = (np.pi / 32 * (1 - (1 + x_ap**2) ** -1.5) / (1 - (1 + x_ap**2) ** -1)
                  * G * M_PL / A_PL)
    assert expected_c / (3 * np.pi / 64 * G * M_PL / A_PL) == pytest.approx(0.99, abs=0.005)
    assert np.var(central, ddof=1) / expected_c == pytest.approx(1.0, abs=0.07)


def test_labels_are_true_enclosed_mass(plummer_galaxy):
    p = project(plummer_galaxy, [0.1, 0.2, 0.9], np.random.default_rng(5))
    prof = Plummer(M_PL, A_PL)
    np.testing.assert_allclose(p.log10_mass, np.log10(prof.enclosed_mass(RADII_F * p.r_half)),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.log10_mass, np.log10(plummer_galaxy.enclosed_mass(p.radii)),
                               rtol=0, atol=1e-12)
    assert p.log10_mass.shape == (10,) and np.all(np.diff(p.log10_mass) > 0)


def test_v_p98_gaussian():
    v = np.random.default_rng(4).normal(5.0, 10.0, 200_000)
    assert v_p98(v) / 10.0 == pytest.approx(2.3263, rel=0.01)
    assert sigma_los(np.array([1.0, 3.0])) == pytest.approx(np.sqrt(2.0))


# --------------------------------------------------------------------------- bad input
def test_too_few_stars_names_galaxy():
    g = small_galaxy(40, name="tiny-dwarf")
    with pytest.raises(GalmassError, match="tiny-dwarf"):
        project(g, [0, 0, 1], np.random.default_rng(0))
    project(g, [0, 0, 1], np.random.default_rng(0), min_stars=20)  # allowed when lowered
    g = small_galaxy(300)
    with pytest.raises(GalmassError):
        project(g, [0, 0, 1], np.random.default_rng(0), n_sample=301)
    with pytest.raises(GalmassError):
        project(g, [0, 0, 1], np.random.default_rng(0), n_sample=10)


def test_zero_dispersion_and_nan():
    g = small_galaxy(100, name="frozen")
    g.star_vel[:] = [1.0, 2.0, 3.0]
    with pytest.raises(GalmassError, match="frozen.*dispersion"):
        project(g, [0, 0, 1], np.random.default_rng(0))
    g = small_galaxy(100, name="nan-galaxy")
    g.star_vel[3, 0] = np.nan  # corrupted after construction
    with pytest.raises(GalmassError, match="nan-galaxy"):
        project(g, [1, 0, 0], np.random.default_rng(0))
    g = small_galaxy(100, name="nan-pos")
    g.star_pos[5, 2] = np.nan
    with pytest.raises(GalmassError, match="nan-pos"):
        project(g, [0, 0, 1], np.random.default_rng(0))
    with pytest.raises(GalmassError):
        sigma_los(np.array([1.0, np.nan]))
    with pytest.raises(GalmassError):
        v_p98(np.array([1.0]))
    with pytest.raises(GalmassError):
        r_half_projected(np.array([]), np.array([]))
