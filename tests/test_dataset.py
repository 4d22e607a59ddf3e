"""Projection dataset: labels, splits, balancing, resumable builds, bad input, PyTorch access."""

import logging
import os

import h5py
import numpy as np
import pytest

from galmass.config import DatasetConfig, load_config
from galmass.constants import RADII_F
from galmass.errors import GalmassError
from galmass.sources.storage import build_suite, read_shard, write_shard
from galmass.sources.suites import load_suite

PARAMS = DatasetConfig(n_los=4, map_size=16, shard_size=4)
SEED = 7
SUITES = ("cusp", "core", "heldout")


@pytest.fixture(scope="module")
def client():
    from galmass.parallel import dask_client
    with dask_client(n_workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def built(tmp_path_factory, client):
    """Three small suites (suite shards of 3 galaxies) and their dataset (shards of 4)."""
    from galmass.dataset import build_dataset, build_index

    root = tmp_path_factory.mktemp("data")
    for name, n in zip(SUITES, (6, 6, 3)):
        build_suite(name, n, SEED, root / "suites", shard_size=3, n_max_stars=300, client=client,
                    progress=False)
    res = build_dataset(PARAMS, SUITES, root / "suites", root / "dataset", seed=SEED, client=client,
                        progress=False)
    # few projections here: coarse bins, so that balancing keeps enough of them
    build_index(root / "dataset", seed=SEED, bins=4, range=PARAMS.balance_range,
                validation_fraction=0.34, test_fraction=0.25)
    return root, res


def _shard_arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][:] for k in f}


def test_labels_are_true_enclosed_masses(built):
    from galmass.dataset import LABEL_RH_INDEX, project_galaxy, projection_rng

    root, res = built
    assert res.n_built == 2 + 2 + 1 and not res.skipped
    assert RADII_F[LABEL_RH_INDEX] == 1.0
    gals = read_shard(root / "suites" / "core" / "shard_00001.h5")  # galaxies 3..5
    a = _shard_arrays(res.shards["core"][0])  # galaxies 0..3: spans two suite shards
    b = _shard_arrays(res.shards["core"][1])
    assert list(a["galaxy_index"]) == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert a["map1"].shape == (16, 16, 16) and a["map1"].dtype == np.float32
    assert a["map2"].shape == (16, 16, 16) and a["labels"].shape == (16, 10)
    for g in gals:
        i = int(g.name.split("_")[-1])
        arr, rows = (a, a["galaxy_index"] == i) if i < 4 else (b, b["galaxy_index"] == i)
        assert rows.sum() == 4
        assert {s.decode() for s in arr["galaxy_id"][rows]} == {g.name}
        r_half = arr["scalars"][rows, 0]
        want = np.log10(g.enclosed_mass(RADII_F[None, :] * r_half[:, None]))
        np.testing.assert_allclose(arr["labels"][rows], want, rtol=0, atol=1e-12)
        # the shard holds exactly what project_galaxy gives with the galaxy's own stream
        again = project_galaxy(g, 4, projection_rng(SEED, "core", i), 16)
        np.testing.assert_array_equal(again["map1"], arr["map1"][rows])
        np.testing.assert_array_equal(again["scalars"], arr["scalars"][rows])
        assert np.all(arr["scalars"][rows] > 0)
        np.testing.assert_array_equal(arr["los"][rows], np.arange(4))
        # literature estimators stored with the truth at their own radii
        from galmass.observe.estimators import ESTIMATORS
        f_est = np.array([e.radius_factor for e in ESTIMATORS.values()])
        truth = np.log10(g.enclosed_mass(f_est[None, :] * r_half[:, None]))
        np.testing.assert_allclose(arr["est_log_truth"][rows], truth, atol=1e-12)
        ratio = 10 ** (arr["est_log_mass"][rows] - arr["est_log_truth"][rows])
        assert np.all((ratio > 0.2) & (ratio < 5))


def test_no_galaxy_in_two_splits(built):
    from galmass.dataset import load_arrays

    root, _ = built
    t = load_arrays(root / "dataset", kept=False)
    assert len(t["row"]) == 4 * 15
    keys = np.char.add(np.char.add(t["suite"], "/"), t["galaxy_id"])
    kept = t["split"] != "dropped"
    for key in np.unique(keys[kept]):
        assert len(set(t["split"][kept & (keys == key)])) == 1, key
    assert set(t["split"][t["suite"] == "heldout"]) <= {"test", "dropped"}
    assert set(t["split"][np.isin(t["suite"], ["cusp", "core"])]) == {"train", "validation", "test", "dropped"}
    # the split itself: whole galaxies, seeded, the requested fractions, train/validation/test disjoint
    from galmass.dataset import split_by_galaxy

    ids = np.repeat([f"g{i}" for i in range(50)], 4)
    lab = split_by_galaxy(ids, 0.2, seed=3, test_fraction=0.3)
    assert (lab == "validation").sum() == 40 and (lab == "test").sum() == 60 and (lab == "train").sum() == 100
    assert np.array_equal(lab, split_by_galaxy(ids, 0.2, seed=3, test_fraction=0.3))
    assert all(len(set(lab[ids == g])) == 1 for g in np.unique(ids))
    assert not np.array_equal(lab, split_by_galaxy(ids, 0.2, seed=4, test_fraction=0.3))
    # adding a test split leaves the validation galaxies of a run without one where they were
    assert np.array_equal(lab == "validation", split_by_galaxy(ids, 0.2, seed=3) == "validation")
    with pytest.raises(GalmassError, match="sum below 1"):
        split_by_galaxy(ids, 0.5, test_fraction=0.5)


def test_balance_equal_counts_and_range(built):
    from galmass.dataset import balance, load_arrays

    rng = np.random.default_rng(0)
    log_m = np.concatenate([rng.normal(9, 1.2, 3000), rng.normal(8.5, 0.8, 1500), rng.uniform(6, 12, 500)])
    suite = np.array(["a"] * 3000 + ["b"] * 1500 + ["h"] * 500)
    keep = balance(log_m, suite, ["a", "b"], bins=30, range=(7.5, 11.0), seed=1)
    edges = np.linspace(7.5, 11.0, 31)
    ca = np.histogram(log_m[keep & (suite == "a")], edges)[0]
    cb = np.histogram(log_m[keep & (suite == "b")], edges)[0]
    np.testing.assert_array_equal(ca, cb)
    full_a = np.histogram(log_m[suite == "a"], edges)[0]
    full_b = np.histogram(log_m[suite == "b"], edges)[0]
    np.testing.assert_array_equal(ca, np.minimum(full_a, full_b))
    inside = (log_m >= 7.5) & (log_m <= 11.0)
    assert not np.any(keep & ~inside)
    np.testing.assert_array_equal(keep[suite == "h"], inside[suite == "h"])  # held out: range only
    assert np.array_equal(keep, balance(log_m, suite, ["a", "b"], seed=1))
    assert balance(log_m, suite, ["a", "b"], enabled=False).all()
    # on the built dataset
    root, _ = built
    t = load_arrays(root / "dataset", kept=True)
    with h5py.File(root / "dataset" / "index.h5", "r") as f:
        edges = f["bin_edges"][:]
    assert len(edges) == 5 and len(t["row"]) >= 8
    cnt = {s: np.histogram(t["log_mass_rh"][t["suite"] == s], edges)[0] for s in ("cusp", "core")}
    np.testing.assert_array_equal(cnt["cusp"], cnt["core"])
    assert np.all((t["log_mass_rh"] >= 7.5) & (t["log_mass_rh"] <= 11.0))


def test_interrupted_build_resumes_identically(built, tmp_path, client):
    from galmass.dataset import build_dataset

    root, full = built
    kw = dict(seed=SEED, client=client, progress=False)
    part = build_dataset(PARAMS, ["core"], root / "suites", tmp_path / "ds", **kw)
    victim = part.shards["core"][0]
    os.remove(victim)
    victim.with_name(victim.name + ".partial").write_bytes(b"junk")
    again = build_dataset(PARAMS, ["core"], root / "suites", tmp_path / "ds", **kw)
    assert again.n_built == 1
    assert not list((tmp_path / "ds").rglob("*.partial"))
    for a, b in zip(full.shards["core"], again.shards["core"]):
        xa, xb = _shard_arrays(a), _shard_arrays(b)
        assert xa.keys() == xb.keys()
        for k in xa:
            np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
    assert build_dataset(PARAMS, ["core"], root / "suites", tmp_path / "ds", **kw).n_built == 0
    other = DatasetConfig(n_los=3, map_size=16, shard_size=4)
    with pytest.raises(GalmassError, match="other parameters"):
        build_dataset(other, ["core"], root / "suites", tmp_path / "ds", **kw)


def test_bad_galaxies_are_skipped_with_a_reason(tmp_path, client, caplog):
    from galmass.dataset import build_dataset, build_index, load_arrays

    good, src = load_suite("heldout", 2, seed=1, n_max_stars=300)
    few = type(src)("few", "mixed", src.star_pos[:30], src.star_vel[:30], src.star_mass[:30],
                    src.mass_profile, {})
    still = type(src)("still", "mixed", src.star_pos, np.zeros_like(src.star_vel), src.star_mass,
                      src.mass_profile, {})
    nan = type(src)("nan", "mixed", src.star_pos.copy(), src.star_vel, src.star_mass, src.mass_profile, {})
    nan.star_pos[5, 0] = np.nan  # Galaxy() refuses NaN: corrupt it after construction
    write_shard(tmp_path / "suites" / "mixed" / "shard_00000.h5", [good, few, still, nan])
    with caplog.at_level(logging.WARNING, logger="galmass.dataset"):
        res = build_dataset(PARAMS, ["mixed"], tmp_path / "suites", tmp_path / "ds", seed=1,
                            client=client, progress=False)
    msgs = [r.getMessage() for r in caplog.records if r.name.startswith("galmass.dataset")]
    assert len(msgs) == 3 and all("\n" not in m for m in msgs)
    assert any("few" in m and "fewer than" in m for m in msgs)
    assert any("still" in m and "dispersion" in m for m in msgs)
    assert any("nan" in m and "NaN" in m for m in msgs)
    assert {s[2] for s in res.skipped} == {"few", "still", "nan"}
    with h5py.File(res.shards["mixed"][0], "r") as f:
        assert f.attrs["complete"] and f.attrs["n_projections"] == 4
        assert [s.decode() for s in f["skipped_name"][:]] == ["few", "still", "nan"]
        assert list(f["skipped_index"][:]) == [1, 2, 3]
        assert np.all(np.isfinite(f["map1"][:])) and {s.decode() for s in f["galaxy_id"][:]} == {good.name}
    build_index(tmp_path / "ds")
    t = load_arrays(tmp_path / "ds", kept=False)
    assert len(t["row"]) == 4 and set(t["split"]) <= {"test", "dropped"}
    with pytest.raises(GalmassError, match="galmass suites build"):
        build_dataset(PARAMS, ["cusp"], tmp_path / "missing", tmp_path / "ds2", client=client)
    with pytest.raises(GalmassError, match="galmass suites build"):
        build_dataset(PARAMS, ["cusp"], tmp_path / "suites", tmp_path / "ds2", client=client)


def test_build_from_config_needs_built_suites(tmp_path):
    from galmass.dataset import build_from_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nsuites:\n  names: [cusp]\n"
                   "dataset:\n  n_los: 2\n  map_size: 16\n")
    assert load_config(cfg).dataset.n_los == 2
    assert load_config(cfg).dataset_dir == tmp_path / "data" / "dataset"
    with pytest.raises(GalmassError, match="galmass suites build"):
        build_from_config(cfg)
    cfg.write_text("dataset:\n  n_lost: 2\n")
    with pytest.raises(GalmassError, match="unknown key"):
        load_config(cfg)


def test_torch_dataset_and_loader(built):
    import torch
    from torch.utils.data import DataLoader

    from galmass.dataset import load_arrays
    from galmass.inference.data import ProjectionDataset

    root, _ = built
    ds = ProjectionDataset(root / "dataset", split="train")
    t = load_arrays(root / "dataset", split="train")
    assert len(ds) == len(t["row"]) > 0 and isinstance(ds, torch.utils.data.Dataset)
    m1, m2, sc, lab = ds[0]
    assert m1.shape == (1, 16, 16) and m2.shape == (1, 16, 16) and sc.shape == (3,) and lab.shape == (10,)
    assert all(x.dtype == torch.float32 for x in (m1, m2, sc, lab))
    np.testing.assert_allclose(lab.numpy(), t["labels"][0], rtol=1e-6)
    with h5py.File(root / "dataset" / t["shard"][0], "r") as f:
        np.testing.assert_array_equal(m2[0].numpy(), f["map2"][t["row"][0]])
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True, num_workers=0)))
    assert [tuple(b.shape) for b in batch] == [(4, 1, 16, 16), (4, 1, 16, 16), (4, 3), (4, 10)]
    scaled = ProjectionDataset(root / "dataset", suites="heldout", split="test",
                               transform=lambda it: (it[0], it[1], torch.log10(it[2]), it[3]))
    assert len(scaled) > 0
    np.testing.assert_allclose(scaled[0][2].numpy(), np.log10(scaled.table["scalars"][0]), rtol=1e-6)
    arrays = load_arrays(root / "dataset", suites=["cusp"], kept=False)
    assert set(arrays["suite"]) == {"cusp"} and arrays["scalars"].shape == (24, 3)
    with pytest.raises(GalmassError, match="unknown split"):
        load_arrays(root / "dataset", split="training")


def test_dirty_catalogue_dataset_through_the_build(built, tmp_path, client):
    """The nuisances of issue #19 reach the Dask build and are recorded with the dataset; a
    clean dataset's parameters do not mention them."""
    import json

    from galmass.dataset import build_dataset

    root, _ = built
    dirty = DatasetConfig(n_los=2, map_size=16, shard_size=4, min_stars=20, n_sample_range=(20, 100),
                          v_err_range=(1.0, 3.0), binary_fraction_range=(0.0, 0.7),
                          foreground_fraction_range=(0.0, 0.3), estimate_centre=True)
    res = build_dataset(dirty, ("cusp",), root / "suites", tmp_path / "dirty", seed=SEED, client=client,
                        progress=False)
    params = json.loads((tmp_path / "dirty" / "cusp" / "manifest.json").read_text())
    assert params["binary_fraction_range"] == [0.0, 0.7] and params["estimate_centre"] is True
    clean = json.loads((root / "dataset" / "cusp" / "manifest.json").read_text())
    assert "binary_fraction_range" not in clean
    rows = [_shard_arrays(p) for p in res.shards["cusp"]]
    n = np.concatenate([r["n_sample"] for r in rows])
    assert n.min() >= 2 and n.max() <= 143  # 20-100 members drawn, plus up to 30% foreground left by the cut
    labels = np.concatenate([r["labels"] for r in rows])
    assert np.all(np.isfinite(labels))


def test_few_star_calibration_on_test_galaxies(built):
    """Chapter 7's 20-100-star TARP runs on a profile's test galaxies (here the small built set)."""
    from types import SimpleNamespace

    from galmass.book.dirty import few_star_calibration

    root, _ = built
    cfg = SimpleNamespace(dataset_dir=root / "dataset", suites_dir=root / "suites", profile="test")
    tarp, counts, ood = few_star_calibration(None, cfg, n_range=(20, 100), n_galaxies=4, n_los=2, n_samples=100,
                                             as_trained=False)
    assert len(counts) == len(ood) == len(tarp.credibility) > 0
    assert counts.min() >= 20 and counts.max() <= 100
    assert 0.0 <= tarp.max_deviation <= 1.0 and tarp.n_groups <= 4
    # as the shipped model was trained: binaries, foreground with mixture membership, estimated centre
    dirty, dcounts, _ = few_star_calibration(None, cfg, n_range=(20, 100), n_galaxies=4, n_los=2, n_samples=100)
    assert len(dcounts) == len(dirty.credibility) > 0
    assert dcounts.max() <= 143  # 20-100 members drawn, plus up to 30% foreground left by the cut
    assert not np.array_equal(dirty.credibility[:len(tarp.credibility)], tarp.credibility)


def test_few_star_calibration_leaves_out_the_models_training_galaxies(built, tmp_path):
    """A model of another profile is tested only on galaxies it did not see, and refused when
    it does not say which it saw."""
    import json
    import shutil
    from types import SimpleNamespace

    from galmass.book.dirty import few_star_calibration
    from galmass.predict.seen import SEEN_FILE, model_directory

    root, _ = built
    cfg = SimpleNamespace(dataset_dir=root / "dataset", suites_dir=root / "suites", profile="test")
    model = tmp_path / "model"
    shutil.copytree(model_directory(None), model)
    (model / SEEN_FILE).unlink()
    with pytest.raises(GalmassError, match=SEEN_FILE):
        few_star_calibration(model, cfg, n_range=(20, 100), n_galaxies=4, n_los=2, n_samples=100)
    from galmass.predict import load_model

    with pytest.raises(GalmassError, match="pass its directory"):  # a loaded model cannot say where it came from
        few_star_calibration(load_model(None), cfg, n_range=(20, 100), n_galaxies=4, n_los=2, n_samples=100)
    with h5py.File(root / "dataset" / "index.h5", "r") as f:
        gid = np.asarray(f["galaxy_id"][:]).astype(str)
        split = np.asarray(f["split"][:]).astype(str)
    (model / SEEN_FILE).write_text(json.dumps({"splits": {"train": sorted(set(gid[split == "test"])),
                                                            "validation": []}}))
    with pytest.raises(GalmassError, match="no test galaxy"):
        few_star_calibration(model, cfg, n_range=(20, 100), n_galaxies=4, n_los=2, n_samples=100)
    with pytest.raises(GalmassError, match="has 100000 stars"):  # more stars than any test galaxy has
        few_star_calibration(None, cfg, n_range=(100000, 200000), n_galaxies=4, n_los=2, n_samples=100)
