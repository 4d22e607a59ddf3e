"""Appendix C out-of-distribution check."""

import numpy as np
import pytest

from galmass.errors import GalmassError
from galmass.inference.ood import InputDomain


def _scalars(n, rng, shift=0.0):
    rh = 10 ** rng.normal(0.0 + shift, 0.3, n)
    sig = 10 ** (1.2 + 0.5 * np.log10(rh) + rng.normal(0, 0.05, n))
    return np.c_[rh, sig, 2.3 * sig * 10 ** rng.normal(0, 0.02, n)]


def test_training_points_mostly_inside_and_shifted_points_outside():
    rng = np.random.default_rng(0)
    dom = InputDomain.fit(_scalars(4000, rng))
    flag_in, _ = dom.outside(_scalars(2000, rng))
    assert flag_in.mean() < 0.04
    far = _scalars(200, rng, shift=2.0)
    flag_out, reasons = dom.outside(far)
    assert flag_out.mean() > 0.95
    assert all("outside the 99% contour" in r for r, f in zip(reasons, flag_out) if f)
    # a galaxy whose sigma is off the R_h-sigma relation is caught by the pair that sees it
    odd = _scalars(50, rng)
    odd[:, 1] *= 5
    odd[:, 2] = 2.3 * odd[:, 1]
    f, reasons = dom.outside(odd)
    assert f.all() and "log10 sigma_los" in reasons[0]


def test_round_trip_and_bad_input():
    rng = np.random.default_rng(1)
    dom = InputDomain.fit(_scalars(500, rng))
    back = InputDomain.from_dict(dom.to_dict())
    s = _scalars(100, rng)
    np.testing.assert_array_equal(dom.outside(s)[0], back.outside(s)[0])
    with pytest.raises(GalmassError):
        dom.outside(np.zeros((3, 3)))
