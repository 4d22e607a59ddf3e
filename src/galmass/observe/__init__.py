"""Observation: projection along lines of sight, KDE maps, literature estimators and the network inputs."""
