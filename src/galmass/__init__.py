"""galmass: dispersion-supported galaxy mass profiles from line-of-sight stellar data.

An open reproduction of Sarrato-Alós et al. (2025, A&A): projections -> KDE maps -> CNN
-> masked autoregressive flow posterior of M(< f R_h), f = 0.6 ... 2.4.
"""

import warnings
from importlib.metadata import PackageNotFoundError, version

# sbi imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets; galmass's own
# progress bars are plain tqdm, so the warning is noise (in every notebook of the book).
warnings.filterwarnings("ignore", message="IProgress not found")

try:
    __version__ = version("galmass")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from galmass.constants import G, RADII_F  # noqa: E402
from galmass.errors import GalmassError  # noqa: E402

__all__ = ["Galaxy", "GalmassError", "G", "RADII_F", "suites", "__version__"]


def __getattr__(name: str):
    """``galmass.suites`` and ``galmass.Galaxy`` on first use: the mock-suite machinery (scipy
    interpolation, the distribution functions) costs ~0.7 s to import, which ``galmass
    predict`` never needs."""
    if name == "suites":
        from galmass.sources import suites

        return suites
    if name == "Galaxy":
        from galmass.sources.galaxy import Galaxy

        return Galaxy
    raise AttributeError(f"module 'galmass' has no attribute {name!r}")
