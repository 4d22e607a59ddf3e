"""Dask helpers: embarrassingly parallel work over galaxies runs on a Dask cluster."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterable, Iterator

from tqdm import tqdm

__all__ = ["dask_client", "lazy_client", "LazyClient", "map_with_progress"]


@contextlib.contextmanager
def dask_client(address: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A Dask ``Client``: connected to ``address`` when given, else a new local cluster.

    The local cluster uses one single-threaded worker process per CPU core (or
    ``n_workers``), no dashboard (its HTTP endpoints on a free port, so that concurrent
    clusters do not compete for port 8787), and is shut down on exit.
    """
    import logging

    from dask.distributed import Client, LocalCluster

    # a failed task reaches the caller as its exception; the cluster's own echoes of it
    # (worker "Compute Failed", nanny restarts while shutting down) would only add lines
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    n = n_workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


class LazyClient:
    """A Dask client started on first use (:meth:`get`): work that turns out to be done
    already (a resumed or finished build) starts no cluster."""

    def __init__(self, address: str | None = None, n_workers: int | None = None) -> None:
        self.address, self.n_workers = address, n_workers
        self._stack = contextlib.ExitStack()
        self._client: Any = None

    def get(self) -> Any:
        """The client, started now if it was not yet."""
        if self._client is None:
            self._client = self._stack.enter_context(dask_client(self.address, self.n_workers))
        return self._client

    def close(self) -> None:
        self._stack.close()
        self._client = None


@contextlib.contextmanager
def lazy_client(address: str | None = None, n_workers: int | None = None) -> Iterator[LazyClient]:
    """A :class:`LazyClient`, closed (its cluster shut down, if started) on exit."""
    lazy = LazyClient(address, n_workers)
    try:
        yield lazy
    finally:
        lazy.close()


def map_with_progress(func: Callable[..., Any], items: Iterable[Any], *, client: Any,
                      desc: str, progress: bool = True) -> list[Any]:
    """Run ``func(item)`` for every item on ``client``; results in input order, tqdm progress."""
    from dask.distributed import as_completed

    items = list(items)
    if not items:
        return []
    if isinstance(client, LazyClient):
        client = client.get()
    futures = client.map(func, items, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    with tqdm(total=len(items), desc=desc, disable=not progress) as bar:
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            bar.update(1)
    return results
