"""The projection dataset: KDE maps, scalars and labels of every line of sight (Sect. 2.4, 4.1).

Pipeline
--------
1. :func:`~galmass.dataset.build.build_dataset` projects every galaxy of the built suites (``<data_dir>/suites``)
   along ``n_los`` Fibonacci lines of sight (:func:`~galmass.dataset.project.project_galaxy`, whose inputs
   come from :func:`galmass.observe.inputs.make_inputs`, as in ``predict``) and stores, per
   projection, the two CNN input maps, the three scalars and the ten labels. One Dask task
   per dataset shard; shards are written atomically and a rerun only builds missing ones.
2. :func:`~galmass.dataset.index.build_index` reads the (small) scalars and labels of all shards, balances the
   training suites per bin of ``log10 M(<R_h)`` (:func:`~galmass.dataset.balance.balance`), splits the training
   galaxies into train / validation (:func:`~galmass.dataset.balance.split_by_galaxy`) and writes ``index.h5``.
   It is cheap and can be rerun with other balancing options without rebuilding the maps.
3. :func:`~galmass.dataset.readers.load_arrays` returns the scalars, labels and metadata of a selection as numpy
   arrays (no maps) for the classical estimators and the plots, and
   :func:`~galmass.dataset.readers.load_inputs` adds the maps; the PyTorch dataset that
   reads maps lazily is :class:`galmass.inference.data.ProjectionDataset`.

Modules: :mod:`~galmass.dataset.project` (one galaxy's rows), :mod:`~galmass.dataset.shards`
(shard layout), :mod:`~galmass.dataset.build` (Dask shard building),
:mod:`~galmass.dataset.balance`, :mod:`~galmass.dataset.index`, :mod:`~galmass.dataset.readers`
and :mod:`~galmass.dataset.stage` (the ``make data`` stage of a profile).

Layout of ``<dataset_dir>`` (``Config.dataset_dir`` = ``<data_dir>/dataset``)
------------------------------------------------------------------------------
``<suite>/manifest.json``
    The build parameters (dataset parameters, seed, the suite's own manifest, version).
    A later build with other parameters refuses to touch the directory.
``<suite>/shard_00000.h5`` ...
    Galaxies ``[k * shard_size, (k + 1) * shard_size)`` of the suite (galaxy index = its
    position in the suite), one row per projection:
    ======================  ================  ===============================================
    ``map1``                (N, S, S) f4      position map, PDF of (x/R_h, y/R_h) on [-2.4, 2.4]^2
    ``map2``                (N, S, S) f4      phase map, PDF of (R/R_h, v_los/v_p98) on [-2.4, 2.4] x [-1, 1]
    ``scalars``             (N, 3) f8         R_h [kpc], sigma_los [km/s], v_p98 [km/s]
    ``labels``              (N, 10) f8        log10 M(< f R_h) [Msun], f = ``radii_f`` (RADII_F)
    ``galaxy_id``           (N,) str          galaxy name (unique within the suite)
    ``galaxy_index``        (N,) i8           galaxy index within the suite
    ``suite``               (N,) str          suite name
    ``los``                 (N,) i4           line-of-sight index (``fibonacci_directions(n_los)``)
    ``direction``           (N, 3) f8         unit line-of-sight vector in the galaxy frame
    ``n_sample``            (N,) i4           stars in the projection's sub-sample
    ``skipped_index`` ...   (K,)              galaxies skipped: index, name (``skipped_name``) and
                                              one-line reason (``skipped_reason``)
    ======================  ================  ===============================================

    Maps are rows along the second coordinate (``map[i, j] = f(x_j, y_i)``, see
    :mod:`galmass.observe.maps`), stored uncompressed in chunks of one map, so that reading one
    projection reads one contiguous chunk.
``index.h5``
    One row per projection of the indexed suites (*before* balancing, so Fig. 1 can be
    drawn): ``shard`` (path relative to ``dataset_dir``), ``row``, ``suite``,
    ``galaxy_id``, ``galaxy_index``, ``los``, ``scalars``, ``labels``, ``log_mass_rh``
    (= ``labels[:, RADII_F == 1]``), ``in_range`` (inside ``balance_range``), ``kept``
    (selected by balancing) and ``split`` (``"train"``, ``"validation"``, ``"test"`` for
    held-out suites, ``"dropped"`` when not kept); plus ``bin_edges`` and the skipped
    galaxies (``skipped_suite``, ``skipped_name``, ``skipped_reason``). Attributes record
    the options used.

Reproducibility: the sub-samples of galaxy ``i`` of ``suite`` use
``numpy.random.default_rng([seed, crc32(suite), i, PROJECTION_STREAM])`` (:func:`~galmass.dataset.project.projection_rng`),
so the dataset does not depend on how the work was scheduled or resumed.
"""

from galmass.dataset.balance import balance, galaxy_keys, split_by_galaxy
from galmass.dataset.build import DatasetBuild, build_dataset
from galmass.dataset.index import build_index
from galmass.dataset.project import LABEL_RH_INDEX, PROJECTION_STREAM, SCALAR_NAMES, project_galaxy, projection_rng
from galmass.dataset.readers import load_arrays, load_inputs
from galmass.dataset.stage import build_from_config

__all__ = ["SCALAR_NAMES", "LABEL_RH_INDEX", "PROJECTION_STREAM", "projection_rng", "project_galaxy",
           "build_dataset", "DatasetBuild", "balance", "galaxy_keys", "split_by_galaxy", "build_index",
           "load_arrays", "load_inputs", "build_from_config"]
