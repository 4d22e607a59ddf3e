"""Self-describing predict outputs and many catalogues in one call (issue #20)."""

import numpy as np
import pytest
from astropy.table import Table

from galmass.cli import main


def _write(path, rng, n=300):
    Table({"x": rng.normal(0, 0.3, n), "y": rng.normal(0, 0.3, n), "v_los": rng.normal(0, 8, n),
           "v_err": np.full(n, 2.0)}).write(path, overwrite=True)


def test_ecsv_output_has_units_and_provenance(tmp_path):
    import astropy.units as u

    cat = tmp_path / "g.csv"
    _write(cat, np.random.default_rng(0))
    out = tmp_path / "p.ecsv"
    assert main(["predict", str(cat), "--out", str(out), "--n-samples", "200", "--samples", str(tmp_path / "s.npy")]) == 0
    t = Table.read(out)
    assert t["r_kpc"].unit == u.kpc
    for k in ("p2_5", "p16", "p50", "p84", "p97_5"):
        assert t[f"log10_m_{k}"].unit == u.dex(u.Msun)
    m = t.meta
    for key in ("galmass_version", "model_fingerprint", "training_profile", "catalogue_path", "catalogue_sha256",
                "preprocessing", "date", "estimators", "ood", "ood_reason", "units"):
        assert key in m, key
    import hashlib
    assert m["catalogue_sha256"] == hashlib.sha256(cat.read_bytes()).hexdigest()
    assert len(m["model_fingerprint"]) == 64 and m["units"]["R_h"] == "kpc"
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (200, len(t))
    np.testing.assert_allclose(np.percentile(s, 50, axis=0), t["log10_m_p50"], rtol=0, atol=1e-9)


def test_many_catalogues_one_call_and_one_bad(tmp_path, capsys):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(20):
        p = tmp_path / f"g{i:02d}.csv"
        _write(p, rng)
        paths.append(str(p))
    (tmp_path / "g07.csv").write_text("x,y,v_los\nnot,a,number\n")
    out = tmp_path / "out"
    assert main(["predict", *paths, "--out-dir", str(out), "--n-samples", "200"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("galmass: error:")]
    assert len(lines) == 1 and "g07.csv" in lines[0]
    assert "19 of 20 catalogues" in err
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 19 and "g07.ecsv" not in written
    fps = {Table.read(out / w).meta["model_fingerprint"] for w in written}
    assert len(fps) == 1 and None not in fps


def test_many_catalogues_need_an_out_dir(tmp_path, capsys):
    rng = np.random.default_rng(2)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _write(a, rng)
    _write(b, rng)
    assert main(["predict", str(a), str(b)]) == 2
    assert "--out-dir" in capsys.readouterr().err
    assert main(["predict", str(a), "--samples", str(tmp_path / "s.txt")]) == 2
    assert ".npy or .h5" in capsys.readouterr().err
