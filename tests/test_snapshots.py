"""Tests of galmass.sources.snapshots: kappa_co, read_snapshot (real tipsy file and mocks), write_tipsy."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.sources.galaxy import Galaxy
from galmass.physics.profiles import NFW, ParticleMass, Plummer
from galmass.sources.snapshots import kappa_co, read_snapshot
from galmass.sources.tipsy import TIPSY_MSOL_UNIT, write_tipsy

pynbody = pytest.importorskip("pynbody")

TINY = Path(__file__).resolve().parents[2] / "shared" / "data" / "simulations" / "tipsy_tiny" / "tiny.000640"
if not TINY.exists():
    TINY = Path("/work/shared/data/simulations/tipsy_tiny/tiny.000640")
RELAXED = dict(min_stellar_mass=0, min_star_particles=1, min_highres_fraction=0, max_kappa_co=1,
               progress=False)
RHO_CRIT_PLANCK14_Z0 = 3 * (0.1 * 0.671) ** 2 / (8 * np.pi * G) * (0.3175 + 0.0001 + 0.6824)


# --------------------------------------------------------------------------- helpers
def unit_vectors(n, rng):
    z = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def sample_nfw(halo: NFW, n, r_max, rng):
    """Radii [kpc] of ``n`` particles drawn from the NFW profile truncated at ``r_max`` (inverse CDF)."""
    grid = np.geomspace(1e-4 * halo.r_s, r_max, 4000)
    cdf = halo.enclosed_mass(grid) / halo.enclosed_mass(r_max)
    return np.interp(rng.uniform(0, 1, n), cdf, grid)


def mock_halo(rng, *, centre=(0.0, 0.0, 0.0), bulk=(0.0, 0.0, 0.0), n_dm=5000, n_star=500,
              m_star=1e7, a_star=0.5, disc=False):
    """NFW (m200 = 1e10 Msun, c = 10, sampled to 2 r200) + Plummer (or thin rotating disc) stars."""
    r200 = (3 * 1e10 / (4 * np.pi * 200 * RHO_CRIT_PLANCK14_Z0)) ** (1 / 3)
    halo = NFW(1e10, r200, 10.0)
    r_dm = sample_nfw(halo, n_dm, 2 * r200, rng)
    dm = {"pos": r_dm[:, None] * unit_vectors(n_dm, rng), "vel": rng.normal(0, 30, (n_dm, 3)),
          "mass": np.full(n_dm, halo.enclosed_mass(2 * r200) / n_dm)}
    stars_profile = Plummer(m_star, a_star)
    if disc:
        big_r = rng.uniform(0.2, 5.0, n_star)
        phi = rng.uniform(0, 2 * np.pi, n_star)
        pos = np.stack([big_r * np.cos(phi), big_r * np.sin(phi), rng.normal(0, 0.01, n_star)], axis=1)
        v_c = np.sqrt(G * halo.enclosed_mass(big_r) / big_r)
        vel = np.stack([-v_c * np.sin(phi), v_c * np.cos(phi), np.zeros(n_star)], axis=1)
    else:
        pos = stars_profile.sample_radii(n_star, rng)[:, None] * unit_vectors(n_star, rng)
        vel = rng.normal(0, 10, (n_star, 3))
    stars = {"pos": pos, "vel": vel, "mass": np.full(n_star, m_star / n_star)}
    for fam in (dm, stars):
        fam["pos"] = fam["pos"] + np.asarray(centre)
        fam["vel"] = fam["vel"] + np.asarray(bulk)
    return halo, stars_profile, dm, stars


def float32_masses(m):
    """Masses as pynbody reads them back from a tipsy file (float32 in 1e10 Msun)."""
    return np.float32(np.asarray(m) / TIPSY_MSOL_UNIT).astype(float) * TIPSY_MSOL_UNIT


def radii_between_particles(r, targets):
    """Radii near ``targets`` halfway between two particles (so rounding cannot flip membership)."""
    r = np.sort(r)
    k = np.clip(np.searchsorted(r, targets), 1, len(r) - 1)
    return 0.5 * (r[k - 1] + r[k])


def min_image(d, box):
    return d if not box else (d + 0.5 * box) % box - 0.5 * box


# --------------------------------------------------------------------------- kappa_co
def test_kappa_co_pure_circular_rotation_is_one():
    rng = np.random.default_rng(0)
    big_r, phi = rng.uniform(0.1, 25, 3000), rng.uniform(0, 2 * np.pi, 3000)
    pos = np.stack([big_r * np.cos(phi), big_r * np.sin(phi), np.zeros_like(phi)], axis=1)
    v = 50 + 3 * big_r
    vel = np.stack([-v * np.sin(phi), v * np.cos(phi), np.zeros_like(phi)], axis=1)
    mass = rng.uniform(1e3, 1e4, 3000)
    assert kappa_co(pos, vel, mass) == pytest.approx(1.0, rel=1e-12)
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # any orientation: the axis comes from L
    assert kappa_co(pos @ rot.T, vel @ rot.T, mass) == pytest.approx(1.0, rel=1e-12)


def test_kappa_co_isotropic_sphere_is_one_sixth():
    rng = np.random.default_rng(1)
    n = 200_000
    pos = rng.uniform(0.5, 20, n)[:, None] * unit_vectors(n, rng)
    vel = rng.normal(0, 20, (n, 3))
    assert kappa_co(pos, vel, np.ones(n)) == pytest.approx(1 / 6, abs=0.005)


def test_kappa_co_counter_rotation_and_aperture():
    rng = np.random.default_rng(2)
    n = 10_000
    big_r, phi = rng.uniform(0.5, 20, n), rng.uniform(0, 2 * np.pi, n)
    pos = np.stack([big_r * np.cos(phi), big_r * np.sin(phi), np.zeros(n)], axis=1)
    sign = np.where(np.arange(n) < 0.6 * n, 1.0, -1.0)  # 60 % co-, 40 % counter-rotating
    vel = 100 * sign[:, None] * np.stack([-np.sin(phi), np.cos(phi), np.zeros(n)], axis=1)
    assert kappa_co(pos, vel, np.ones(n)) == pytest.approx(0.6, rel=1e-12)
    # fast stars beyond r_max = 30 kpc are ignored; shrinking the aperture excludes stars
    far = np.tile([[40.0, 0.0, 0.0]], (100, 1))
    pos2 = np.vstack([pos, far])
    vel2 = np.vstack([vel, rng.normal(0, 500, (100, 3))])
    assert kappa_co(pos2, vel2, np.ones(n + 100)) == pytest.approx(0.6, rel=1e-12)
    assert kappa_co(pos2, vel2, np.ones(n + 100), r_max=50.0) < 0.5  # their energy now counts
    # counter-rotation only beyond 10 kpc: pure co-rotation inside r_max = 10 kpc
    phi_hat = np.stack([-np.sin(phi), np.cos(phi), np.zeros(n)], axis=1)
    vel_in = 100 * np.where(big_r < 10, 1.0, -1.0)[:, None] * phi_hat
    assert kappa_co(pos, vel_in, np.ones(n), r_max=10.0) == pytest.approx(1.0, rel=1e-12)
    assert kappa_co(pos, vel_in, np.ones(n)) < 0.6


def test_kappa_co_bad_input():
    with pytest.raises(GalmassError, match="shape"):
        kappa_co(np.zeros((3, 3)), np.zeros((3, 2)), np.ones(3))
    with pytest.raises(GalmassError, match="within r_max"):
        kappa_co(np.full((3, 3), 100.0), np.ones((3, 3)), np.ones(3))


# --------------------------------------------------------------------------- the real tiny file
@pytest.fixture(scope="module")
def tiny():
    if not TINY.exists():
        pytest.skip("tipsy_tiny test data not available")
    sim = pynbody.load(str(TINY))
    sim.physical_units()
    box = float(sim.properties["boxsize"].in_units("kpc", **sim.conversion_context()))
    return sim, box


def test_tiny_catalogue_halo_has_no_stars(tiny, caplog):
    # its AmigaGrp catalogue: halo 0 = 171 gas + 29 dm; number -1 (skipped by default) holds the rest
    with caplog.at_level(logging.INFO, logger="galmass.sources.snapshots"):
        assert read_snapshot(TINY, progress=False) == []
    assert "tiny.000640_h0 rejected: no star particles" in caplog.text
    with pytest.raises(GalmassError, match="^halo 0 has no star particles$"):
        read_snapshot(TINY, halo_numbers=[0], progress=False)


@pytest.mark.parametrize("kwargs", [dict(halo_catalogue="none"), dict(halo_numbers=[-1])])
def test_tiny_truth_is_the_particle_mass_within_r(tiny, kwargs):
    sim, box = tiny
    # the file is a sparse subsample: its mean density is below 200 rho_crit beyond 0.4 kpc,
    # so use rho_crit itself (r ~ 9 kpc) to get a useful radius
    galaxies = read_snapshot(TINY, overdensity=1.0, **RELAXED, **kwargs)
    assert len(galaxies) == 1
    gal = galaxies[0]
    meta = gal.meta
    assert meta["redshift"] == pytest.approx(2.9638, abs=1e-4)
    assert not meta["cosmology_assumed"]
    rho_c = float(pynbody.analysis.cosmology.rho_crit(sim, unit="Msol kpc**-3"))
    assert meta["rho_crit"] == pytest.approx(rho_c, rel=1e-4)

    centre = np.array(meta["centre"])
    r = np.linalg.norm(min_image(np.asarray(sim["pos"].in_units("kpc")) - centre, box), axis=1)
    m = np.asarray(sim["mass"].in_units("Msol"))
    radii = radii_between_particles(r, np.array([0.1, 0.25, 0.5, 0.75, 0.99]) * meta["r200"])
    expected = [m[r <= x].sum() for x in radii]
    np.testing.assert_allclose(gal.enclosed_mass(radii), expected, rtol=1e-12)
    assert meta["m200"] == pytest.approx(m[r <= meta["r200"]].sum(), rel=1e-12)
    mean_density = meta["m200"] / (4 / 3 * np.pi * meta["r200"] ** 3)
    assert mean_density == pytest.approx(rho_c, rel=1e-3)

    r_star = np.linalg.norm(min_image(np.asarray(sim.star["pos"].in_units("kpc")) - centre, box), axis=1)
    inside = r_star <= meta["r200"]
    assert gal.n_stars == meta["n_star_particles"] == inside.sum() > 10
    assert gal.stellar_mass == pytest.approx(np.asarray(sim.star["mass"])[inside].sum(), rel=1e-12)
    assert 0 <= meta["kappa_co"] <= 1 and 0 <= meta["highres_fraction"] <= 1
    assert np.max(np.linalg.norm(gal.star_pos, axis=1)) <= meta["r200"]


# --------------------------------------------------------------------------- tipsy round trip
def test_tipsy_round_trip_recovers_the_particle_truth(tmp_path):
    rng = np.random.default_rng(42)
    centre, bulk = np.array([30.0, -20.0, 10.0]), np.array([120.0, -40.0, 15.0])
    halo, plummer, dm, stars = mock_halo(rng, centre=centre, bulk=bulk, n_dm=20_000, n_star=2000)
    stars["tform"] = np.r_[np.full(3, -1.0), np.full(1997, 2.0)]  # 3 "black holes": not stars
    path = write_tipsy({"star": stars}, tmp_path / "mock.000100", dm=dm)
    assert path.with_suffix(".param").exists() and path.exists()
    # the pitfall: raw numbers on disk are in file units (1e10 Msun), pynbody converts them back
    raw = pynbody.load(str(path))
    assert float(raw.star["mass"][0]) == pytest.approx(stars["mass"][0] / TIPSY_MSOL_UNIT, rel=1e-6)

    gals = read_snapshot(path, halo_catalogue="none", progress=False)
    assert len(gals) == 1
    gal = gals[0]
    meta = gal.meta
    assert gal.name == "mock.000100_h0" and meta["cosmology_assumed"] and meta["redshift"] == 0
    assert meta["centred_on"] == "stars" and meta["n_flagged_star_particles"] == 3
    np.testing.assert_allclose(meta["centre"], centre, atol=0.15)
    np.testing.assert_allclose(meta["velocity_centre"], bulk, atol=2.0)

    # exact truth: the written (float32) particle masses within r of the centre found
    all_pos = np.vstack([dm["pos"], stars["pos"]])
    all_m = float32_masses(np.r_[dm["mass"], stars["mass"]])
    r = np.linalg.norm(all_pos - np.array(meta["centre"]), axis=1)
    radii = radii_between_particles(r, np.array([0.2, 0.5, 1.0, 3.0, 10.0, 30.0]))
    np.testing.assert_allclose(gal.enclosed_mass(radii), [all_m[r <= x].sum() for x in radii], rtol=1e-9)

    # statistical truth: the analytic profiles, within Poisson noise of the realisation
    m_dm, m_st = dm["mass"][0], stars["mass"][0]
    for x, got in zip(radii, gal.enclosed_mass(radii)):
        m_nfw, m_pl = halo.enclosed_mass(x), plummer.enclosed_mass(x)
        sigma = np.sqrt(m_nfw * m_dm + m_pl * m_st)
        assert abs(got - m_nfw - m_pl) < 5 * sigma + 1e-6 * (m_nfw + m_pl)

    # r200 of the total profile with the assumed Planck 2014 critical density at z = 0
    r200_true = optimize.brentq(lambda x: halo.enclosed_mass(x) + plummer.enclosed_mass(x)
                                - 200 * RHO_CRIT_PLANCK14_Z0 * 4 / 3 * np.pi * x**3, 1.0, 500.0)
    assert meta["r200"] == pytest.approx(r200_true, rel=0.02)
    assert meta["rho_crit"] == pytest.approx(RHO_CRIT_PLANCK14_Z0, rel=1e-9)

    # the stars: positions and velocities survive the unit conversion
    real = stars["tform"] >= 0
    r_star = np.linalg.norm(stars["pos"][real] - np.array(meta["centre"]), axis=1)
    ok = r_star <= meta["r200"]
    assert gal.n_stars == ok.sum() >= 1990
    np.testing.assert_allclose(gal.star_pos + meta["centre"], stars["pos"][real][ok], atol=1e-5)
    np.testing.assert_allclose(gal.star_vel + meta["velocity_centre"], stars["vel"][real][ok], atol=1e-4)
    assert gal.stellar_mass == pytest.approx(float32_masses(stars["mass"][real][ok]).sum(), rel=1e-9)
    assert meta["highres_fraction"] == 1.0 and meta["kappa_co"] < 0.3
    assert json.loads(json.dumps(meta))["selection"]["min_star_particles"] == 50


def test_write_tipsy_from_a_galaxy(tmp_path):
    rng = np.random.default_rng(5)
    _, _, dm, stars = mock_halo(rng, n_dm=2000, n_star=300)
    galaxy = Galaxy("g", "test", stars["pos"], stars["vel"], stars["mass"],
                    ParticleMass(np.zeros(1), np.ones(1)))
    path = write_tipsy(galaxy, tmp_path / "g.000100", dm=dm)
    gal = read_snapshot(path, halo_catalogue="none", progress=False)[0]
    assert gal.n_stars == 300 and gal.stellar_mass == pytest.approx(galaxy.stellar_mass, rel=1e-6)
    with pytest.raises(GalmassError, match="expected a Galaxy or a mapping"):
        write_tipsy(42, tmp_path / "bad.000100")
    with pytest.raises(GalmassError, match="given twice"):
        write_tipsy({"star": stars, "dm": dm}, tmp_path / "bad.000100", dm=dm)


def test_tipsy_catalogue_selection(tmp_path, caplog):
    rng = np.random.default_rng(7)
    families = {"dm": [], "star": []}
    _, _, dm1, st1 = mock_halo(rng, centre=(0, 0, 0))                  # kept
    _, _, dm2, st2 = mock_halo(rng, centre=(1000, 0, 0), disc=True)    # rotation-supported
    _, _, dm3, st3 = mock_halo(rng, centre=(0, 1000, 0))               # contaminated
    heavy = rng.uniform(size=len(dm3["mass"])) < 0.1
    dm3["mass"] = np.where(heavy, 8 * dm3["mass"], dm3["mass"])        # ~47 % of its DM mass
    _, _, dm4, _ = mock_halo(rng, centre=(0, 0, 1000))                 # no stars
    for number, (dm, st) in enumerate([(dm1, st1), (dm2, st2), (dm3, st3), (dm4, None)], start=1):
        dm["grp"] = number
        families["dm"].append(dm)
        if st is not None:
            st["grp"] = number
            families["star"].append(st)
    merged = {fam: {k: np.concatenate([np.broadcast_to(p[k], (len(p["mass"]),) + np.shape(p[k])[1:])
                                       for p in parts]) for k in parts[0]}
              for fam, parts in families.items()}
    path = write_tipsy(merged, tmp_path / "box.000100")
    assert (tmp_path / "box.000100.amiga.grp").exists()

    with caplog.at_level(logging.INFO, logger="galmass.sources.snapshots"):
        gals = read_snapshot(path, progress=False)
    assert [g.name for g in gals] == ["box.000100_h1"]
    assert gals[0].meta["halo_catalogue"] == "AmigaGrpCatalogue" and gals[0].meta["kappa_co"] < 0.5
    assert "box.000100_h2 rejected: kappa_co" in caplog.text
    assert "box.000100_h3 rejected: high-resolution fraction" in caplog.text
    assert "box.000100_h4 rejected: no star particles" in caplog.text
    h3 = read_snapshot(path, halo_numbers=[3], min_highres_fraction=0.3, progress=False)[0]
    assert 0.4 < h3.meta["highres_fraction"] < 0.7
    assert read_snapshot(path, halo_numbers=[2], max_kappa_co=1, progress=False)[0].meta["kappa_co"] > 0.95
    assert len(read_snapshot(path, halo_catalogue="AmigaGrpCatalogue", progress=False)) == 1
    assert read_snapshot(path, halo_numbers=[1], min_stellar_mass=2e7, progress=False) == []
    with pytest.raises(GalmassError, match="^halo 4 has no star particles$"):
        read_snapshot(path, halo_numbers=[4], progress=False)
    with pytest.raises(GalmassError, match="halo 9 not in"):
        read_snapshot(path, halo_numbers=[9], progress=False)
    with pytest.raises(GalmassError, match="unknown halo catalogue"):
        read_snapshot(path, halo_catalogue="NoSuchCatalogue", progress=False)


# --------------------------------------------------------------------------- bad input
def one_line(excinfo):
    assert "\n" not in str(excinfo.value)
    return str(excinfo.value)


def test_bad_inputs(tmp_path):
    with pytest.raises(GalmassError, match="cannot read snapshot .*no such file") as e:
        read_snapshot(tmp_path / "missing.000100", progress=False)
    one_line(e)
    garbage = tmp_path / "garbage.000100"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(GalmassError, match="cannot read snapshot .*garbage") as e:
        read_snapshot(garbage, progress=False)
    one_line(e)
    for name, value in [("min_stellar_mass", -1.0), ("max_kappa_co", float("nan")),
                        ("min_highres_fraction", 1.5), ("min_star_particles", -3)]:
        with pytest.raises(GalmassError, match=name) as e:
            read_snapshot(TINY, progress=False, **{name: value})
        one_line(e)
    rng = np.random.default_rng(3)
    _, _, dm, stars = mock_halo(rng, n_dm=500, n_star=60)
    path = write_tipsy({"star": stars, "dm": dm}, tmp_path / "nocat" / "solo.000100")
    with pytest.raises(GalmassError, match="no halo catalogue found .*halo_catalogue='none'") as e:
        read_snapshot(path, progress=False)
    one_line(e)
    with pytest.raises(GalmassError, match="needs pos, vel, mass"):
        write_tipsy({"star": {"pos": stars["pos"], "vel": stars["vel"]}}, tmp_path / "x.000100")
    with pytest.raises(GalmassError, match="unknown family"):
        write_tipsy({"stars": stars}, tmp_path / "x.000100")


def test_centre_across_a_periodic_boundary():
    from galmass.sources.snapshots import _centre

    rng = np.random.default_rng(11)
    box, n = 1000.0, 400
    true = np.array([499.8, 0.0, -10.0])                  # the box spans [-500, 500)
    pos = true + Plummer(1e7, 0.5).sample_radii(n, rng)[:, None] * unit_vectors(n, rng)
    pos = (pos + 500) % box - 500                         # wrapped, as a simulation stores them
    vel = rng.normal(0, 10, (n, 3)) + [50.0, 0.0, 0.0]
    centre, vcen, on = _centre(None, pos, vel, np.ones(n), box)
    assert on == "stars"
    assert np.linalg.norm(min_image(centre - true, box)) < 0.1
    np.testing.assert_allclose(vcen, [50, 0, 0], atol=3.0)
