"""Faults a flaky machine or a hostile user brings (issue #15): corrupt and planted files,
concurrent runs, full disks and read-only data. Each test failed before its fix.

Command-line cases run `galmass` as a real subprocess; concurrency uses two real processes;
full disks use a small tmpfs and read-only data a read-only bind mount, where this machine
lets the test mount one (else skipped, saying why).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from galmass.errors import GalmassError, GalmassWarning

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
#: A training suite of the smoke profile (a single-suite model is trained on it below).
SMOKE_SUITE = yaml.safe_load(SMOKE.read_text())["models"]["joint"][0]
DEFAULT_MODEL = ROOT / "src" / "galmass" / "default_model"


# --------------------------------------------------------------------------- helpers
def galmass(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed command line as a subprocess."""
    return subprocess.run([sys.executable, "-m", "galmass.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_line(res: subprocess.CompletedProcess | tuple[int, str], *words: str) -> str:
    """Exit status 2 and exactly one line on stderr, containing ``words``."""
    rc, err = (res.returncode, res.stderr) if isinstance(res, subprocess.CompletedProcess) else res
    lines = error_lines(err)
    assert rc == 2 and len(lines) == 1, f"exit {rc}, stderr:\n{err}"
    assert lines[0].startswith("galmass: error: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def profile(path: Path, data_dir: Path, **sections) -> Path:
    """The smoke profile with ``data_dir`` (and optionally other sections) replaced."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["data_dir"] = str(data_dir)
    cfg.update(sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def tree_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root`` except lock files, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def build_data(cfg: Path) -> None:
    for step in (("suites", "build"), ("dataset", "build")):
        res = galmass(*step, "--config", cfg, "--quiet")
        assert res.returncode == 0, res.stderr


def plummer_csv(path: Path, n: int = 400, seed: int = 0) -> Path:
    from plummer import sample_plummer

    pos, vel = sample_plummer(n, 1e8, 0.3, np.random.default_rng(seed))
    lines = ["x,y,v_los"] + [f"{x:.6f},{y:.6f},{v:.4f}" for (x, y, _), (_, _, v) in zip(pos, vel)]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def mounted(kind: str, target: Path, source: Path | None = None, size: str = "1m"):
    """A small tmpfs (``kind="tmpfs"``) or a read-only bind mount of ``source`` at ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        cmds = [["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)]]
    else:
        cmds = [["mount", "--bind", str(source), str(target)],
                ["mount", "-o", "remount,bind,ro", str(target)]]
    for i, cmd in enumerate(cmds):
        try:
            ok = subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            if i:
                subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount a {kind} here (needs root and mount rights): {' '.join(cmd)}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


class Planted:
    """A pickle that runs code when unpickled: it creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------- shared builds
@pytest.fixture(scope="module")
def single_build(tmp_path_factory) -> Path:
    """The smoke profile's suites and dataset, built once by one process."""
    root = tmp_path_factory.mktemp("single")
    build_data(profile(root / "smoke.yaml", root / "data"))
    return root / "data"


# --------------------------------------------------------------------------- 2: concurrent builds
def test_concurrent_builds_equal_a_single_build(single_build, tmp_path):
    """Acceptance 3: two concurrent `suites build` + `dataset build` runs, five times, always
    end with suites and dataset byte-identical to a single build."""
    reference = tree_digests(single_build)
    assert any(k.startswith("dataset/") for k in reference) and "dataset/index.h5" in reference
    for rep in range(5):
        cfg = profile(tmp_path / f"rep{rep}" / "smoke.yaml", tmp_path / f"rep{rep}" / "data")
        cmd = " && ".join(f"{sys.executable} -m galmass.cli {step} build --config {cfg} --quiet"
                          for step in ("suites", "dataset"))
        procs = [subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (_, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "Traceback" not in err, err
        got = tree_digests(tmp_path / f"rep{rep}" / "data")
        assert got == reference, f"repetition {rep}: {sorted(set(got.items()) ^ set(reference.items()))[:4]}"
        assert not list((tmp_path / f"rep{rep}").rglob("*.partial"))


def test_lock_waits_for_the_holder_or_names_it(tmp_path):
    """A second builder of a locked directory waits (saying who holds it) or, asked not to
    wait, exits with one line naming the holder."""
    from galmass.files import directory_lock

    target = tmp_path / "suite"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from galmass.files import directory_lock\n"
        f"with directory_lock({str(target)!r}, 'suite x'):\n"
        "    print('held', flush=True); time.sleep(3)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(GalmassError, match=f"being built by pid {holder.pid}"):
        with directory_lock(target, "suite x", wait=False):
            pass
    said: list[str] = []
    t0 = time.perf_counter()
    with directory_lock(target, "suite x", say=said.append) as locked:
        waited = time.perf_counter() - t0  # the holder keeps it ~3 s after saying "held"
    holder.wait()
    assert locked and waited > 2.0
    assert len(said) == 1 and f"waiting for pid {holder.pid}" in said[0]


# --------------------------------------------------------------------------- 2: corrupt shards
@pytest.fixture(scope="module")
def client():
    from galmass.parallel import dask_client
    with dask_client(n_workers=2) as c:
        yield c


def _flip(path: Path, at: float = 0.5) -> None:
    b = bytearray(path.read_bytes())
    b[int(len(b) * at)] ^= 0x10
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("damage", ["bit flip", "truncated", "legacy truncated"])
def test_corrupt_suite_shard_is_moved_aside_and_rebuilt(tmp_path, client, damage):
    from galmass.dataset import build_dataset
    from galmass.config import DatasetConfig
    from galmass.files import checksum_path
    from galmass.sources.storage import build_suite

    kw = dict(shard_size=3, n_max_stars=300, client=client, progress=False)
    res = build_suite("core", 6, 3, tmp_path / "suites", **kw)
    shard = res.shards[1]
    original = shard.read_bytes()
    if damage == "bit flip":
        _flip(shard)
    else:
        shard.write_bytes(original[: len(original) // 2])
        if damage.startswith("legacy"):  # written before checksums were stored
            checksum_path(shard).unlink()
    # the dataset build refuses it with one line, before reading garbage
    with pytest.raises(GalmassError, match="corrupt.*galmass suites build"):
        build_dataset(DatasetConfig(n_los=2, map_size=8, shard_size=3), ["core"], tmp_path / "suites",
                      tmp_path / "ds", client=client, progress=False)
    again = build_suite("core", 6, 3, tmp_path / "suites", **kw)
    assert again.n_built == 1
    assert shard.read_bytes() == original  # rebuilt identically
    assert (shard.parent / f"{shard.name}.corrupt-1").exists()  # kept for inspection, not deleted
    assert build_suite("core", 6, 3, tmp_path / "suites", **kw).n_built == 0


def test_legacy_shard_without_checksum_is_verified_and_kept(tmp_path, client):
    from galmass.files import checksum_path
    from galmass.sources.storage import build_suite

    kw = dict(shard_size=3, n_max_stars=300, client=client, progress=False)
    res = build_suite("cusp", 3, 3, tmp_path, **kw)
    side = checksum_path(res.shards[0])
    stored = side.read_text()
    side.unlink()
    assert build_suite("cusp", 3, 3, tmp_path, **kw).n_built == 0
    assert side.read_text() == stored


def test_corrupt_dataset_shard_is_rebuilt_identically(tmp_path, client):
    from galmass.config import DatasetConfig
    from galmass.dataset import build_dataset
    from galmass.sources.storage import build_suite

    build_suite("core", 4, 3, tmp_path / "suites", shard_size=2, n_max_stars=300, client=client,
                progress=False)
    p = DatasetConfig(n_los=2, map_size=8, shard_size=2)
    res = build_dataset(p, ["core"], tmp_path / "suites", tmp_path / "ds", client=client, progress=False)
    shard = res.shards["core"][0]
    original = shard.read_bytes()
    _flip(shard, 0.9)
    again = build_dataset(p, ["core"], tmp_path / "suites", tmp_path / "ds", client=client, progress=False)
    assert again.n_built == 1 and shard.read_bytes() == original


def test_dead_writers_partials_are_cleaned_up(tmp_path, client):
    from galmass.sources.storage import build_suite

    d = tmp_path / "core"
    d.mkdir()
    leftover = d / ".shard_00000.h5.99999-deadbeef.partial"
    leftover.write_bytes(b"half a shard")
    build_suite("core", 2, 3, tmp_path, shard_size=2, n_max_stars=200, client=client, progress=False)
    assert not leftover.exists() and not list(tmp_path.rglob("*.partial"))


# --------------------------------------------------------------------------- 4, 9: checkpoints
def _toy(n: int, seed: int, size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sc = np.c_[10 ** rng.uniform(-1, 0, n), 10 ** rng.uniform(0.5, 1.2, n), 10 ** rng.uniform(0.9, 1.6, n)]
    lab = np.log10(sc[:, 0] * sc[:, 1] ** 2 * 1e5)[:, None] + np.linspace(0, 0.5, 10)[None]
    return {"map1": rng.random((n, size, size)).astype(np.float32),
            "map2": rng.random((n, size, size)).astype(np.float32), "scalars": sc, "labels": lab}


def _cnn(max_epochs: int, workdir: Path | None):
    from galmass.inference.cnn import CNNConfig, train_cnn

    cfg = CNNConfig(channels=(2, 2), hidden=8, max_epochs=max_epochs, batch_size=32, num_threads=1, seed=3)
    return train_cnn(_toy(96, 0), _toy(32, 1), 8, cfg, workdir=workdir, progress=False)


def test_planted_cnn_checkpoint_is_not_run(tmp_path):
    """Item 4: a pickle planted as the CNN checkpoint is refused, moved aside, never executed."""
    marker = tmp_path / "pwned"
    work = tmp_path / "work"
    work.mkdir()
    torch.save({"model": Planted(marker)}, work / "cnn_checkpoint.pt")
    with pytest.warns(GalmassWarning, match="not plain weights"):
        _cnn(2, work)
    assert not marker.exists()
    assert (work / "cnn_checkpoint.pt.corrupt-1").exists() and (work / "cnn_checkpoint.pt").exists()


def test_planted_flow_checkpoint_is_not_run(tmp_path):
    from galmass.inference.flow import FlowConfig, train_flow

    marker = tmp_path / "pwned"
    torch.save(Planted(marker), tmp_path / "flow_checkpoint.pt")
    rng = np.random.default_rng(0)
    th, x = rng.normal(size=(64, 10)), rng.normal(size=(64, 4))
    with pytest.warns(GalmassWarning, match="not plain weights"):
        train_flow(th, x, th[:16], x[:16], FlowConfig(max_epochs=1, hidden_features=8, num_transforms=1),
                   workdir=tmp_path, progress=False)
    assert not marker.exists() and (tmp_path / "flow_checkpoint.pt.corrupt-1").exists()


def test_every_torch_load_is_weights_only():
    """No torch.load in galmass may unpickle code."""
    import re

    calls = []
    for f in (ROOT / "src" / "galmass").rglob("*.py"):
        for m in re.finditer(r"torch\.load\(([^)]*)\)", f.read_text()):
            calls.append((f.name, m.group(1)))
    assert calls and all("weights_only=True" in args for _, args in calls), calls


def test_truncated_checkpoint_restarts_training_cleanly(tmp_path):
    """Item 9: a truncated checkpoint is moved aside with one warning and training starts
    again, ending exactly where a fresh training ends."""
    work = tmp_path / "work"
    _cnn(2, work)
    ck = work / "cnn_checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    with pytest.warns(GalmassWarning, match="truncated"):
        model, _, hist = _cnn(3, work)
    fresh, _, _ = _cnn(3, None)
    assert len(hist.val_loss) == 3
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_training_time_adds_up_over_resumes(tmp_path):
    """Item 9: after a resume the recorded time covers every run, not only the last."""
    work = tmp_path / "work"
    _, _, first = _cnn(2, work)
    _, _, hist = _cnn(4, work)
    assert len(hist.seconds) == 4
    assert hist.wall_seconds >= sum(hist.seconds) > sum(first.seconds)
    assert hist.wall_seconds > first.wall_seconds


def test_two_trainings_in_one_directory(single_build, tmp_path):
    """Item 9: two `galmass train` of the same profile at once both succeed: the second waits
    for the first and finds the model finished."""
    data = tmp_path / "data"
    shutil.copytree(single_build, data)
    s = SMOKE_SUITE
    cfg = profile(tmp_path / "p.yaml", data, profile="faults", models={s: [s]},
                  real_galaxies={"model": s},
                  cnn={"channels": [2, 4], "hidden": 8, "max_epochs": 2},
                  flow={"max_epochs": 2, "n_samples": 50})
    procs = [subprocess.Popen([sys.executable, "-m", "galmass.cli", "train", "--config", str(cfg), "--quiet"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "Traceback" not in err, err
        assert f"model {s}" in out
    # one trained, the other waited for it (instead of training over the same files)
    waited = [err for _, err in outs if "galmass: waiting for pid" in err]
    assert len(waited) == 1 and f"building model {s}" in waited[0], outs
    model_dir = tmp_path / "models" / "faults" / s
    assert (model_dir / "model.json").exists()
    assert not list(tmp_path.glob("models/faults/*.stale-*")) and not list(tmp_path.rglob("*.partial"))


def test_local_clusters_do_not_fight_over_a_port():
    """Item 9: concurrent builds each start a Dask cluster; none warns about port 8787."""
    from galmass.parallel import dask_client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dask_client(n_workers=1) as a, dask_client(n_workers=1) as b:
            assert a.submit(int, "1").result() + b.submit(int, "2").result() == 3
    assert not [w for w in caught if "8787" in str(w.message) or "already in use" in str(w.message)]


# --------------------------------------------------------------------------- 5: broken models
def _break(root: Path, case: str, tmp: Path) -> None:
    """Damage the shipped model copied to ``root``: its first member's files (an ensemble) or its own."""
    import json

    if case == "ensemble.json not JSON":
        (root / "ensemble.json").write_text("{members")
        return
    if case == "ensemble member missing":
        shutil.rmtree(next((root / "members").iterdir()))
        return
    d = next((root / "members").iterdir()) if (root / "members").is_dir() else root
    if ".pt" in case or case == "pickle payload":  # the torch files are read only without weights.npz
        (d / "weights.npz").unlink(missing_ok=True)
    if case == "truncated weights.npz":
        (d / "weights.npz").write_bytes((d / "weights.npz").read_bytes()[:3000])
        return
    if case == "weights.npz without a layer":
        with np.load(d / "weights.npz") as f:
            keep = {k: f[k] for k in f.files if k != "cnn/head.weight"}
        with open(d / "weights.npz", "wb") as fh:
            np.savez(fh, **keep)
        return
    meta = json.loads((d / "model.json").read_text())
    if case == "missing key":
        del meta["map_size"]
    elif case == "unknown key":
        meta["surprise"] = 1
    elif case == "unknown cnn_config key":
        meta["cnn_config"]["kernel"] = 5
    elif case == "bad map_size":
        meta["map_size"] = "large"
    if case in ("missing key", "unknown key", "unknown cnn_config key", "bad map_size"):
        (d / "model.json").write_text(json.dumps(meta))
    elif case == "JSON list":
        (d / "model.json").write_text("[1, 2, 3]")
    elif case == "not JSON":
        (d / "model.json").write_text("{format_version: 1")
    elif case == "not UTF-8":
        (d / "model.json").write_bytes(b'{"format_version": "\xff\xfe"}')
    elif case == "model.json a directory":
        (d / "model.json").unlink()
        (d / "model.json").mkdir()
    elif case == "empty cnn.pt":
        (d / "cnn.pt").write_bytes(b"")
    elif case == "truncated cnn.pt":
        (d / "cnn.pt").write_bytes((d / "cnn.pt").read_bytes()[:1000])
    elif case == "truncated flow.pt":
        (d / "flow.pt").write_bytes((d / "flow.pt").read_bytes()[:5000])
    elif case == "flow.pt of another network":
        shutil.copy(d / "cnn.pt", d / "flow.pt")
    elif case == "missing flow.pt":
        (d / "flow.pt").unlink()
    elif case == "cnn.pt a directory":
        (d / "cnn.pt").unlink()
        (d / "cnn.pt").mkdir()
    elif case == "pickle payload":
        torch.save(Planted(tmp / "pwned"), d / "cnn.pt")
    elif case == "truncated domain.json":
        (d / "domain.json").write_text((d / "domain.json").read_text()[:200])
    elif case == "wrong-schema domain.json":
        (d / "domain.json").write_text('{"pairs": 3}')
    elif case == "domain.json list":
        (d / "domain.json").write_text("[]")
    elif case == "domain.json bad pair":
        dom = json.loads((d / "domain.json").read_text())
        dom["pairs"][0] = [0, 7]
        (d / "domain.json").write_text(json.dumps(dom))
    else:  # pragma: no cover
        raise AssertionError(case)


BROKEN_MODELS = ["missing key", "unknown key", "unknown cnn_config key", "bad map_size", "JSON list",
                 "not JSON", "not UTF-8", "model.json a directory", "empty cnn.pt", "truncated cnn.pt",
                 "truncated flow.pt", "flow.pt of another network", "missing flow.pt", "cnn.pt a directory",
                 "pickle payload", "truncated domain.json", "wrong-schema domain.json", "domain.json list",
                 "domain.json bad pair", "truncated weights.npz", "weights.npz without a layer",
                 "ensemble.json not JSON", "ensemble member missing"]


@pytest.mark.parametrize("case", BROKEN_MODELS)
def test_broken_model_directory_is_one_line(tmp_path, capfd, case):
    """Item 5: every malformed model file gives exit 2 and one line naming the file."""
    from galmass.cli import main

    d = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, d)
    _break(d, case, tmp_path)
    cat = plummer_csv(tmp_path / "stars.csv")
    rc = main(["predict", str(cat), "--model", str(d)])
    line = assert_one_line((rc, capfd.readouterr().err))
    assert str(d) in line
    assert not (tmp_path / "pwned").exists()


def test_broken_model_directory_subprocess(tmp_path):
    d = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, d)
    _break(d, "pickle payload", tmp_path)
    res = galmass("predict", plummer_csv(tmp_path / "stars.csv"), "--model", d)
    assert_one_line(res, "cnn.pt", "not plain weights")
    assert not (tmp_path / "pwned").exists()


# --------------------------------------------------------------------------- 6: full disk, read-only
def test_full_disk_build_is_one_line(tmp_path):
    with mounted("tmpfs", tmp_path / "full", size="1m") as full:
        cfg = profile(tmp_path / "p.yaml", full / "data")
        res = galmass("suites", "build", "--config", cfg, "--quiet")
        assert_one_line(res, "cannot write", "no space left")
        assert not list(full.rglob("*.partial"))


def test_full_disk_torch_and_text_writes_are_one_line(tmp_path):
    from galmass.files import atomic_write_text, save_torch

    with mounted("tmpfs", tmp_path / "full", size="256k") as full:
        (full / "keep.txt").write_text("before")
        with pytest.raises(GalmassError, match=r"cannot write .*weights.pt: no space left"):
            save_torch({"w": torch.zeros(200_000)}, full / "weights.pt")
        with pytest.raises(GalmassError, match="no space left"):
            atomic_write_text(full / "keep.txt", "x" * 400_000)
        assert (full / "keep.txt").read_text() == "before"  # the old file survives a failed write
        assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]


def test_full_disk_predict_out_is_one_line(tmp_path):
    cat = plummer_csv(tmp_path / "stars.csv")
    with mounted("tmpfs", tmp_path / "full", size="64k") as full:
        out = full / "profile.ecsv"
        out.write_text("previous result\n")
        with contextlib.suppress(OSError):
            (full / "filler").write_bytes(b"\0" * 70_000)
        res = galmass("predict", cat, "--out", out)
        assert_one_line(res, "no space left")
        assert out.read_text() == "previous result\n"
        assert not list(full.glob("*.partial")) and not list(full.glob(".*.partial"))


def test_read_only_finished_data_is_usable(single_build, tmp_path):
    """A finished dataset on a read-only file system: the builds succeed without writing."""
    with mounted("ro", tmp_path / "ro", source=single_build) as ro:
        cfg = profile(tmp_path / "p.yaml", ro)
        for step in ("suites", "dataset"):
            res = galmass(step, "build", "--config", cfg, "--quiet")
            assert res.returncode == 0 and not res.stderr.strip(), res.stderr
            assert "0 built now" in res.stdout


def test_read_only_unfinished_data_is_one_line(single_build, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(single_build, data)
    for p in (data / "suites" / SMOKE_SUITE).glob("shard_00001.h5*"):
        p.unlink()
    with mounted("ro", tmp_path / "ro", source=data) as ro:
        res = galmass("suites", "build", "--config", profile(tmp_path / "p.yaml", ro), "--quiet")
        assert_one_line(res, "cannot write", "read-only")


def test_model_of_an_older_dataset_build_is_stale(single_build, tmp_path):
    """A model records the identity of the dataset build it was trained on (``dataset_id``):
    after the dataset is rebuilt in the same directory, the finished model is not reused
    silently: training refuses it, or with ``replace_stale`` moves it aside and retrains."""
    import h5py

    from galmass.config import load_config
    from galmass.dataset.readers import dataset_id
    from galmass.inference.training import train_model

    data = tmp_path / "data"
    shutil.copytree(single_build, data)
    s = SMOKE_SUITE
    cfg = load_config(profile(tmp_path / "p.yaml", data, profile="stale", models={s: [s]},
                              real_galaxies={"model": s}, cnn={"channels": [2, 4], "hidden": 8, "max_epochs": 1},
                              flow={"max_epochs": 1, "n_samples": 20}))
    cfg.output_dir = str(tmp_path)
    first = train_model(cfg, s, [s], progress=False)
    assert first.info["spec"]["dataset_id"] == dataset_id(cfg.dataset_dir)
    import json

    same = json.loads(json.dumps(first.info))
    assert train_model(cfg, s, [s], progress=False).info == same  # same build: reused
    with h5py.File(Path(cfg.dataset_dir) / "index.h5", "a") as f:  # a rebuilt dataset
        f.attrs["inputs_sha256"] = "0" * 64
    with pytest.raises(GalmassError, match="trained with other settings"):
        train_model(cfg, s, [s], progress=False)
    again = train_model(cfg, s, [s], progress=False, replace_stale=True)
    assert again.info["spec"]["dataset_id"] == "0" * 64
    assert list(Path(cfg.models_dir).glob(f"{s}.stale-*"))
