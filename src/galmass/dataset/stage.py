"""The dataset stage of a run profile: build the shards, then the index (``make data``)."""

from __future__ import annotations

import logging
from pathlib import Path

from galmass.config import load_config
from galmass.dataset.build import DatasetBuild, build_dataset
from galmass.dataset.index import build_index
from galmass.parallel import lazy_client

log = logging.getLogger(__name__)


def build_from_config(config_path: str | Path, *, scheduler: str | None = None, progress: bool = True,
              replace_stale: bool = False) -> DatasetBuild:
    """Build the projection dataset and its index for a run profile (``make data``).

    The profile's suites must have been built (``galmass suites build``); otherwise a
    :class:`GalmassError` says so. Resumes an interrupted build.

    Returns
    -------
    DatasetBuild
        With ``index`` set to the written ``index.h5``.
    """
    cfg = load_config(config_path)
    p = cfg.dataset
    suites = list(cfg.suites.names)
    with lazy_client(scheduler or cfg.scheduler, cfg.n_workers) as client:
        res = build_dataset(p, suites, cfg.suites_dir, cfg.dataset_dir, seed=cfg.seed,
                            client=client, progress=progress, replace_stale=replace_stale)
    index = build_index(cfg.dataset_dir, suites, seed=cfg.seed, balance_projections=p.balance,
                        bins=p.balance_bins, range=tuple(p.balance_range),
                        validation_fraction=p.validation_fraction, test_fraction=p.test_fraction)
    log.info("dataset %s: %d shards built now, %d galaxies skipped, index %s",
             cfg.dataset_dir, res.n_built, len(res.skipped), index)
    return DatasetBuild(res.directory, res.shards, res.n_built, res.skipped, index)
