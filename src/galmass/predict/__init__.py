"""The mass profile of a real (or mock) galaxy from its star catalogue.

``galmass predict CATALOG`` and :func:`predict` turn a catalogue of member stars (sky
positions and line-of-sight velocities) into the posterior of ``log10 M(< f R_h)`` for the
model's radii ``f = 0.6 ... 2.4``.

Pipeline
--------
1. **Reading** (:func:`read_catalog`). A CSV, ECSV or FITS table (anything
   ``astropy.table.Table.read`` reads; or an astropy ``Table`` / a dict of arrays) with
   either ``x, y`` [kpc] or ``ra, dec`` [deg] plus a distance [kpc] (argument, a
   ``distance`` column or a ``distance`` entry of the table metadata / FITS header), and
   ``v_los`` [km/s]; optional ``v_err`` [km/s] and ``p_member`` (column names are matched
   case-insensitively, aliases in :data:`COLUMN_ALIASES`; columns carrying astropy units
   are converted). When both ``x, y`` and ``ra, dec`` are present, ``x, y`` are used.
   Two plain-text formats have their own readers: the GravSphere / Walker ``*_spec.dat``
   files (:func:`read_walker_catalog`) and the Gaia Challenge mocks
   (:func:`read_gaia_challenge`). With ``format="auto"`` the reader is chosen from the
   file: ``*.csv``, ``*.ecsv``, ``*.fits`` ... are tables; another text file whose first
   data line has 25 numbers (or whose name ends in ``_spec.dat``) is a Walker file, one
   with 6 or 7 numbers a Gaia Challenge (or EDGE-like ``x y z vx vy vz [mass]``) file;
   anything else is read as an astropy ASCII table.
2. **Membership.** Stars with ``p_member < p_member_min`` (default 0.5) are dropped.
   A model trained with ``dataset.membership_weights`` (the shipped model) weights the
   others by ``p_member`` in every input (weighted KDE maps, R_h, sigma_los, v_p98, error
   correction; ``membership_weights=`` / ``--p-member-weights`` override), exactly as its
   training catalogues, whose ``p_member`` came from a member + foreground mixture model
   (:mod:`galmass.observe.nuisances`); otherwise every kept star counts once and
   ``p_member`` only weights the centre. A catalogue without ``p_member`` is used whole,
   or, with :func:`fit_membership` (``--fit-membership``), gets the same mixture model's
   probabilities, and the output says which (``meta["membership"]``). Walker rows with
   ``v = 0`` (no velocity) are dropped.
3. **Centring** (:func:`find_centre`). Unless a centre is given, it is the
   membership-weighted mean position, iterated robustly: start from the weighted mean of
   all stars, then repeat (at most 20 times, until it moves by less than ``1e-6`` of the
   median radius) the weighted mean of the stars within ``3 x`` the (unweighted) median
   distance from the current centre. Sky positions are projected on the tangent plane
   (gnomonic projection, :func:`gnomonic`) about the centre and multiplied by the
   distance: ``x`` points east (increasing RA), ``y`` north, in kpc. For sky catalogues
   the centre is found on the sphere (the tangent point is moved to the robust centre
   and the stars re-projected until it no longer moves), so the final ``x, y`` are about
   the tangent point. ``centre="origin"`` keeps ``x, y`` as given (the default of
   :func:`read_gaia_challenge`, whose mocks are centred by construction).
4. **Inputs, exactly as in training** (:func:`prepare_inputs` calls
   :func:`galmass.observe.inputs.make_inputs`, the one function that also makes the training
   inputs in :func:`galmass.dataset.project.project_galaxy`). Catalogues with more stars than the largest
   training projection (``n_max_sample``, 10,000, or the top of ``n_sample_range`` when the
   model was trained with observational realism) are randomly sub-sampled to it (seeded),
   like the training projections. The systemic velocity is
   removed: ``v = v_los - mean(v_los)`` (default: as in training, the unweighted mean, or
   the ``p_member``-weighted mean for a model trained with membership weights;
   ``v_sys="median"`` the median, a number a known systemic velocity). Then ``R_h = median(sqrt(x^2 + y^2))``
   (:func:`galmass.observe.projection.r_half_projected`), ``sigma_los`` = standard deviation
   (ddof=1) and ``v_p98`` = 98th percentile of ``|v - mean(v)|``
   (:mod:`galmass.observe.projection`; both are about the sample mean whatever ``v_sys`` is, so
   ``v_sys`` only moves the phase map), and the two KDE maps
   (:func:`galmass.observe.maps.position_maps`, :func:`galmass.observe.maps.phase_maps`) with the
   ``"paper"`` bandwidth: Scott's factor counts the stars within ``0.5 R_h`` (at least 1).
   The bandwidth rule and the largest training projection are read from the model
   (:func:`training_preprocessing`).
5. **Velocity errors.** With ``v_err``, the scalar inputs use the intrinsic dispersion
   ``sigma_los = sqrt(sigma_obs^2 - mean(v_err^2))`` and ``v_p98`` scaled by the same
   factor ``sigma_los / sigma_obs`` (:func:`galmass.observe.projection.correct_for_errors`, exact
   for Gaussian velocities and errors); the literature estimators subtract
   ``mean(v_err^2)`` of the stars they use from their variance; the **maps use the
   observed velocities** (normalised by the observed ``v_p98``). A model trained with
   observational realism (``dataset.v_err_range``, the shipped model) saw exactly this:
   its training velocities carry Gaussian errors and go through the same functions. A
   model trained on exact velocities (the paper's setting) sees broader phase maps than in
   training when the errors are comparable to ``sigma_los``. A catalogue whose errors
   account for all its dispersion is refused.
6. **Posterior.** ``n_samples`` flow samples (:meth:`galmass.inference.model.MassModel.predict`)
   give the 16th, 50th and 84th percentiles of ``log10 M(< f R_h)`` [Msun]; the five
   literature estimators (:mod:`galmass.observe.estimators`) are applied to the same stars; the
   scalars are checked against the model's training domain (:mod:`galmass.inference.ood`).

Modules: :mod:`~galmass.predict.catalogue` (the :class:`Catalog` record and its checks),
:mod:`~galmass.predict.sky` (gnomonic projection, robust centre),
:mod:`~galmass.predict.membership` (:func:`fit_membership`),
:mod:`~galmass.predict.readers` (file formats), :mod:`~galmass.predict.api`
(:func:`predict`), :mod:`~galmass.predict.report` (text, table and plot outputs).

Caveats
-------
``R_h`` is the circular half-number radius of the *catalogue's* stars, as in training
(where it is that of the projection's sub-sample). For a spectroscopic member sample it inherits
the survey's selection (fibre placement, radial coverage, magnitude limit) and can differ
from the photometric half-light radius; ellipticity is ignored (circular radii), as in
training. The domain check only looks at the three scalars, not at the maps.

Every bad input (missing columns, NaN values, too few stars, zero dispersion, positions
in degrees passed as kpc, an unreadable file, a model from another galmass version, no
installed default model ...) raises one :class:`~galmass.errors.GalmassError` whose
message is one line. Two oddities are repaired with a :class:`CatalogueWarning`: exact
duplicate star rows are dropped (counted in ``meta["n_dropped_duplicates"]``), and a
UTF-8 byte-order mark at the start of a text file is ignored.

Outputs (:func:`write_prediction`, :func:`plot_profile`) are written atomically
(:func:`galmass.files.atomic_path`: a failed write leaves the previous file untouched and
a reader never sees half a file) and never overwrite the input catalogue
(:func:`check_outputs`).
"""

from galmass.predict.api import (check_n_samples, load_model, predict, prepare_inputs,
                                 training_preprocessing)
from galmass.predict.catalogue import (COLUMN_ALIASES, MIN_N_SAMPLES, MIN_STARS, Catalog,
                                       CatalogueWarning)
from galmass.predict.readers import read_catalog, read_gaia_challenge, read_walker_catalog
from galmass.predict.report import check_outputs, format_prediction, plot_profile, write_prediction
from galmass.predict.membership import fit_membership
from galmass.predict.sky import find_centre, gnomonic, inverse_gnomonic

__all__ = ["Catalog", "COLUMN_ALIASES", "MIN_STARS", "read_catalog", "read_walker_catalog",
           "read_gaia_challenge", "fit_membership", "find_centre", "gnomonic", "inverse_gnomonic", "prepare_inputs",
           "training_preprocessing", "load_model", "predict", "format_prediction", "write_prediction",
           "plot_profile", "check_outputs", "check_n_samples", "CatalogueWarning", "MIN_N_SAMPLES"]
