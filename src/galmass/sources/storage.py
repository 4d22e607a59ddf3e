"""HDF5 storage of galaxy suites: shards written atomically, builds that resume.

Layout of a built suite ``<suites_dir>/<suite>/``:

- ``manifest.json``: the build parameters (suite, seed, n_galaxies, shard_size,
  n_max_stars, galmass version). A later build with other parameters refuses to touch it.
- ``shard_00000.h5`` ...: each holds ``shard_size`` galaxies as concatenated arrays:
  ``offsets`` (n+1,), ``star_pos`` (N, 3) [kpc], ``star_vel`` (N, 3) [km/s],
  ``star_mass`` (N,) [Msun], and per galaxy ``name`` and ``meta`` (JSON, including the
  exact mass profile under ``"mass_profile"``).

A shard is written under a temporary name and renamed when complete
(:func:`galmass.files.atomic_path`), with its SHA-256 in ``shard_*.h5.sha256``: an
interrupted build leaves only complete shards, and a shard counts as built only when its
checksum matches. Rerunning builds the missing ones; a corrupt one (bit flip, truncation) is
moved aside to ``shard_*.h5.corrupt-<k>`` and rebuilt. A build holds a lock on its suite
directory (:func:`galmass.files.directory_lock`): a second build of the same suite waits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import h5py
import numpy as np

from galmass import __version__
from galmass.errors import GalmassError, one_line
from galmass.files import (atomic_path, atomic_write_json, checksum_path, directory_lock, h5_dataset, move_aside,
                           verify_checksum, write_checksum)
from galmass.physics.profiles import profile_from_dict
from galmass.sources.galaxy import Galaxy
from galmass.stages import fingerprint

__all__ = ["write_shard", "read_shard", "read_shard_entries", "move_aside", "build_suite", "load_built_suite", "SuiteBuild"]

_STR = h5py.string_dtype()
log = logging.getLogger(__name__)


def _read_manifest(path: Path) -> Any:
    """A build's manifest.json; an unreadable one counts as another build's (None)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_shard(path: str | Path, galaxies: list[Galaxy]) -> Path:
    """Write ``galaxies`` to one HDF5 shard atomically (temporary file, then rename)."""
    path = Path(path)
    counts = [g.n_stars for g in galaxies]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["galmass_version"] = __version__
        f.attrs["n_galaxies"] = len(galaxies)
        h5_dataset(f, "offsets", data=offsets)
        for key, dtype in (("star_pos", np.float32), ("star_vel", np.float32), ("star_mass", np.float64)):
            arr = (np.concatenate([getattr(g, key) for g in galaxies]) if galaxies
                   else np.zeros((0, 3) if key != "star_mass" else (0,)))
            h5_dataset(f, key, data=arr.astype(dtype), compression="gzip", compression_opts=1,
                             shuffle=True, chunks=True if len(arr) else None)
        h5_dataset(f, "name", data=np.array([g.name for g in galaxies], dtype=object), dtype=_STR)
        h5_dataset(f, "suite", data=np.array([g.suite for g in galaxies], dtype=object), dtype=_STR)
        metas = [json.dumps({**g.meta, "mass_profile": g.mass_profile.to_dict()}) for g in galaxies]
        h5_dataset(f, "meta", data=np.array(metas, dtype=object), dtype=_STR)
    write_checksum(path)
    return path


def _shard_records(path: str | Path):
    """The raw per-galaxy records of a shard: (name, suite, pos, vel, mass, meta)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            off = f["offsets"][:]
            pos, vel, mass = f["star_pos"][:], f["star_vel"][:], f["star_mass"][:]
            names = [s.decode() if isinstance(s, bytes) else s for s in f["name"][:]]
            suites = [s.decode() if isinstance(s, bytes) else s for s in f["suite"][:]]
            metas = [json.loads(s) for s in f["meta"][:]]
    except (OSError, KeyError) as exc:
        raise GalmassError(f"cannot read galaxy shard {path}: {exc}") from None
    for i, (name, suite, meta) in enumerate(zip(names, suites, metas)):
        sl = slice(off[i], off[i + 1])
        yield name, suite, pos[sl].astype(float), vel[sl].astype(float), mass[sl], meta


def _galaxy(name, suite, pos, vel, mass, meta) -> Galaxy:
    return Galaxy(name, suite, pos, vel, mass, profile_from_dict(meta.pop("mass_profile")), meta)


def read_shard(path: str | Path) -> list[Galaxy]:
    """Read all galaxies of a shard written by :func:`write_shard`.

    An unreadable file, or a galaxy that fails validation, raises :class:`GalmassError`.
    """
    return [_galaxy(*rec) for rec in _shard_records(path)]


def read_shard_entries(path: str | Path) -> list[tuple[Galaxy | None, str, str]]:
    """Galaxies of a shard as ``(galaxy or None, name, reason)``, read once.

    Unlike :func:`read_shard`, a galaxy that fails validation (e.g. NaN positions) does not
    refuse the whole shard: it comes back as ``None`` with the one-line reason. An
    unreadable file still raises :class:`GalmassError`.
    """
    out: list[tuple[Galaxy | None, str, str]] = []
    for rec in _shard_records(path):
        try:
            out.append((_galaxy(*rec), rec[0], ""))
        except GalmassError as exc:
            out.append((None, rec[0], one_line(exc)))
    return out


def shard_state(path: str | Path, full_read: Callable[[Path], Any]) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt"``: whether a shard counts as built.

    A shard is ok when its stored SHA-256 matches. A shard written before checksums were
    stored is read in full with ``full_read`` (every compressed block decoded); if that
    works its checksum is stored now, otherwise it is corrupt.
    """
    path = Path(path)
    if not path.exists():
        return "missing"
    ok = verify_checksum(path)
    if ok is None:
        try:
            full_read(path)
        except (GalmassError, OSError, KeyError, ValueError):
            return "corrupt"
        with contextlib.suppress(GalmassError):  # e.g. read-only: checked again next time
            write_checksum(path)
        return "ok"
    return "ok" if ok else "corrupt"


def read_all_hdf5(path: str | Path) -> None:
    """Read every dataset of an HDF5 file (decoding every compressed block); raises on damage."""
    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)


def set_aside_corrupt(path: Path, what: str) -> Path:
    """Move a corrupt shard (and its checksum) aside to ``<name>.corrupt-<k>``, saying so."""
    moved = move_aside(path, "corrupt")
    side = checksum_path(path)
    if side.exists():
        os.replace(side, checksum_path(moved))
    log.warning("%s %s is corrupt (checksum or read failed): moved aside to %s, rebuilding it",
                what, path, moved.name)
    return moved


def _shard_ok(path: Path, expected: int) -> bool:
    state = shard_state(path, read_shard)
    if state == "corrupt":
        set_aside_corrupt(path, "suite shard")
        return False
    if state == "missing":
        return False
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs["n_galaxies"]) == expected
    except (OSError, KeyError):
        return False


@dataclass(frozen=True)
class _ShardTask:
    suite: str
    seed: int
    start: int
    stop: int
    n_max_stars: int
    path: str


def _run_shard(task: _ShardTask) -> str:
    from galmass.sources.suites import make_galaxy

    gals = [make_galaxy(task.suite, i, task.seed, task.n_max_stars) for i in range(task.start, task.stop)]
    write_shard(task.path, gals)
    return task.path


@dataclass(frozen=True)
class SuiteBuild:
    """Result of :func:`build_suite`: where the shards are and how many were (re)built."""

    directory: Path
    shards: tuple[Path, ...]
    n_built: int


def build_suite(suite: str, n_galaxies: int, seed: int, out_dir: str | Path, *,
                shard_size: int = 50, n_max_stars: int = 10_000, client=None,
                scheduler: str | None = None, n_workers: int | None = None,
                progress: bool = True, replace_stale: bool = False) -> SuiteBuild:
    """Build mock ``suite`` into HDF5 shards under ``out_dir/<suite>``, on Dask.

    Complete shards already present are kept (the build resumes); only missing ones are
    generated. Galaxy ``i`` is identical however the work is split. A directory built
    with different parameters or by different generator code is never overwritten: that
    raises :class:`GalmassError`, or with ``replace_stale=True`` the old directory is
    moved aside to ``<suite>.stale-<k>`` and the suite is rebuilt.
    """
    from galmass.sources.suites import _spec

    _spec(suite)
    directory = Path(out_dir) / suite
    with directory_lock(directory, f"suite {suite}"):  # a second build of this suite waits
        return _build_suite(suite, n_galaxies, seed, directory, shard_size, n_max_stars, client,
                            scheduler, n_workers, progress, replace_stale)


def _build_suite(suite, n_galaxies, seed, directory: Path, shard_size, n_max_stars, client,
                 scheduler, n_workers, progress, replace_stale) -> SuiteBuild:
    from galmass.parallel import dask_client, map_with_progress

    manifest = {"suite": suite, "seed": int(seed), "n_galaxies": int(n_galaxies),
                "shard_size": int(shard_size), "n_max_stars": int(n_max_stars),
                "galmass_version": __version__, "code_hash": fingerprint("suites")}
    mpath = directory / "manifest.json"
    if mpath.exists():
        old = _read_manifest(mpath)
        if old != manifest:
            if not replace_stale:
                raise GalmassError(
                    f"{directory} holds a suite built with other parameters or code ({old}); "
                    f"remove it, choose another data_dir, or rebuild with --replace-stale"
                )
            moved = move_aside(directory)
            print(f"suite {suite}: stale build moved aside to {moved}")
    if not mpath.exists():
        atomic_write_json(mpath, manifest)
    tasks = [_ShardTask(suite, seed, s, min(s + shard_size, n_galaxies), n_max_stars,
                        str(directory / f"shard_{s // shard_size:05d}.h5"))
             for s in range(0, n_galaxies, shard_size)]
    todo = [t for t in tasks if not _shard_ok(Path(t.path), t.stop - t.start)]
    if todo:
        if client is not None:
            map_with_progress(_run_shard, todo, client=client, desc=f"suite {suite}", progress=progress)
        else:
            with dask_client(scheduler, n_workers) as cl:
                map_with_progress(_run_shard, todo, client=cl, desc=f"suite {suite}", progress=progress)
    return SuiteBuild(directory, tuple(Path(t.path) for t in tasks), len(todo))


def iter_built_suite(directory: str | Path) -> Iterator[Galaxy]:
    """Iterate over the galaxies of a built suite directory, shard by shard."""
    directory = Path(directory)
    shards = sorted(directory.glob("shard_*.h5"))
    if not shards:
        raise GalmassError(f"no built suite in {directory} (run `galmass suites build` first)")
    for shard in shards:
        yield from read_shard(shard)


def load_built_suite(directory: str | Path) -> list[Galaxy]:
    """All galaxies of a built suite directory."""
    return list(iter_built_suite(directory))
