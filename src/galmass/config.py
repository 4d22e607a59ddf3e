"""Run profiles (``configs/<profile>.yaml``) as dataclasses.

A profile says how big a run is (``smoke`` for CI, ``default`` for a laptop, ``paper`` for
a GPU or cluster); the code never changes between profiles. Unknown keys are an error, so
a typo in a config file is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import GalmassError

__all__ = ["SuitesConfig", "Config", "load_config"]


@dataclass
class SuitesConfig:
    """Mock-suite generation.

    Attributes
    ----------
    names : list of str
        Suites to build.
    n_galaxies : int
        Galaxies per suite.
    n_max_stars : int
        Star particles stored per galaxy at most.
    shard_size : int
        Galaxies per HDF5 shard (the unit of work and of resumption).
    """

    names: list[str] = field(default_factory=lambda: ["cusp", "core", "heldout"])
    n_galaxies: int = 1000
    n_max_stars: int = 10_000
    shard_size: int = 50


@dataclass
class Config:
    """A run profile."""

    profile: str = "default"
    seed: int = 42
    data_dir: str = "data/default"
    scheduler: str | None = None  # Dask scheduler address; None: a local cluster
    n_workers: int | None = None  # local-cluster workers; None: one per CPU core
    suites: SuitesConfig = field(default_factory=SuitesConfig)
    # sections of later pipeline stages are kept verbatim until their code reads them
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def suites_dir(self) -> Path:
        """Where built suites live: ``<data_dir>/suites``."""
        return Path(self.data_dir) / "suites"


def _build(cls, data: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise GalmassError(f"config {where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}")
    return cls(**data)


def load_config(path: str | Path) -> Config:
    """Read a run profile from YAML, validating keys and values."""
    path = Path(path)
    if not path.is_file():
        raise GalmassError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GalmassError(f"config {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise GalmassError(f"config {path} must be a mapping")
    known = {f.name for f in dataclasses.fields(Config)} - {"suites", "extra"}
    top = {k: v for k, v in raw.items() if k in known}
    suites = _build(SuitesConfig, raw.get("suites", {}) or {}, f"{path}: suites")
    extra = {k: v for k, v in raw.items() if k not in known and k != "suites"}
    cfg = Config(suites=suites, extra=extra, **top)
    if cfg.suites.n_galaxies < 1 or cfg.suites.shard_size < 1 or cfg.suites.n_max_stars < 50:
        raise GalmassError(f"config {path}: suites.n_galaxies and shard_size must be >= 1, n_max_stars >= 50")
    from .suites import SUITES
    bad = [s for s in cfg.suites.names if s not in SUITES]
    if bad:
        raise GalmassError(f"config {path}: unknown suite(s) {bad}; known: {list(SUITES)}")
    return cfg
