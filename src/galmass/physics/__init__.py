"""Physics: density profiles, distribution functions, scaling relations."""
