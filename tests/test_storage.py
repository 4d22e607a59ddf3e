"""HDF5 shards: round trip, atomic writes, resumable Dask builds."""

import json
import os

import numpy as np
import pytest

from galmass.config import load_config
from galmass.errors import GalmassError
from galmass.sources.storage import build_suite, load_built_suite, read_shard, write_shard
from galmass.sources.suites import load_suite


def test_shard_round_trip(tmp_path):
    gals = load_suite("heldout", 3, seed=2, n_max_stars=400)
    path = write_shard(tmp_path / "s.h5", gals)
    back = read_shard(path)
    assert [g.name for g in back] == [g.name for g in gals]
    for a, b in zip(gals, back):
        np.testing.assert_allclose(b.star_pos, a.star_pos, rtol=1e-6)
        np.testing.assert_allclose(b.star_mass, a.star_mass)
        r = np.logspace(-2, 1, 5)
        np.testing.assert_allclose(b.enclosed_mass(r), a.enclosed_mass(r), rtol=1e-12)
        assert b.meta == json.loads(json.dumps(a.meta))
    assert not list(tmp_path.glob("*.partial"))


def test_unreadable_shard_is_clear(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(GalmassError, match="cannot read galaxy shard"):
        read_shard(bad)


@pytest.fixture(scope="module")
def client():
    from galmass.parallel import dask_client
    with dask_client(n_workers=2) as c:
        yield c


def test_build_resumes_and_matches_uninterrupted(tmp_path, client):
    kw = dict(shard_size=4, n_max_stars=200, client=client, progress=False)
    full = build_suite("core", 10, 5, tmp_path / "a", **kw)
    assert full.n_built == 3
    # interrupted build: one shard finished, one left half-written
    part = build_suite("core", 10, 5, tmp_path / "b", **kw)
    os.remove(part.shards[1])
    (part.shards[1].parent / (part.shards[1].name + ".partial")).write_bytes(b"junk")
    os.remove(part.shards[2])
    again = build_suite("core", 10, 5, tmp_path / "b", **kw)
    assert again.n_built == 2
    ga, gb = load_built_suite(full.directory), load_built_suite(again.directory)
    assert [g.name for g in ga] == [g.name for g in gb] and len(ga) == 10
    for a, b in zip(ga, gb):
        np.testing.assert_array_equal(a.star_vel, b.star_vel)
    # finished work is never overwritten by a build with other parameters
    with pytest.raises(GalmassError, match="other parameters"):
        build_suite("core", 12, 5, tmp_path / "b", **kw)


def test_config_profiles_load_and_reject_typos(tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    for prof in ("smoke", "default", "paper"):
        cfg = load_config(root / "configs" / f"{prof}.yaml")
        assert cfg.profile == prof
    assert load_config(root / "configs/default.yaml").suites.n_galaxies >= 1000
    bad = tmp_path / "bad.yaml"
    bad.write_text("suites:\n  n_galaxy: 3\n")
    with pytest.raises(GalmassError, match="unknown key"):
        load_config(bad)
    with pytest.raises(GalmassError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_stale_build_is_moved_aside_not_destroyed(tmp_path, client):
    kw = dict(shard_size=4, n_max_stars=100, client=client, progress=False)
    build_suite("cusp", 4, 1, tmp_path, **kw)
    with pytest.raises(GalmassError, match="replace-stale"):
        build_suite("cusp", 4, 2, tmp_path, **kw)
    res = build_suite("cusp", 4, 2, tmp_path, replace_stale=True, **kw)
    assert res.n_built == 1
    assert (tmp_path / "cusp.stale-1" / "shard_00000.h5").exists()
