"""Physics: density profiles, distribution functions, scaling relations, non-spherical
potentials with closed-form forces and vectorised orbit integration."""
