"""Dask helpers: embarrassingly parallel work over galaxies runs on a Dask cluster."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterable, Iterator

from tqdm import tqdm

__all__ = ["dask_client", "map_with_progress"]


@contextlib.contextmanager
def dask_client(address: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A Dask ``Client``: connected to ``address`` when given, else a new local cluster.

    The local cluster uses one single-threaded worker process per CPU core (or
    ``n_workers``), no dashboard, and is shut down on exit.
    """
    import logging

    from dask.distributed import Client, LocalCluster

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    n = n_workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:
        yield client


def map_with_progress(func: Callable[..., Any], items: Iterable[Any], *, client: Any,
                      desc: str, progress: bool = True) -> list[Any]:
    """Run ``func(item)`` for every item on ``client``; results in input order, tqdm progress."""
    from dask.distributed import as_completed

    items = list(items)
    if not items:
        return []
    futures = client.map(func, items, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    with tqdm(total=len(items), desc=desc, disable=not progress) as bar:
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            bar.update(1)
    return results
