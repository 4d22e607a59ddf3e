"""Physics: density profiles, distribution functions, scaling relations, non-spherical
potentials with closed-form forces and vectorised orbit integration."""

# registers the non-spherical mass profile, so that galaxies stored with one read back
from galmass.physics import potentials  # noqa: F401
