"""``galmass predict CATALOG [CATALOG ...]``: the posterior mass profile of galaxies from their star catalogues.

One catalogue: the profile is printed (and written with ``--out``, plotted with ``--plot``,
its posterior samples saved with ``--samples``). Several: the model is loaded once, each
catalogue's profile is written to ``--out-dir`` as ``<name>.ecsv`` (or ``.csv``; with
``--plots`` also ``<name>.png``), a progress bar runs, and a catalogue that fails reports
its one line and does not stop the others (exit status 2 at the end if any failed).
"""

from __future__ import annotations

import argparse
import sys

from galmass.errors import GalmassError


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    pr = sub.add_parser("predict", help="posterior mass profile M(< f R_h) of a galaxy from its star catalogue")
    pr.add_argument("catalog", nargs="+",
                    help="CSV/ECSV/FITS table (x, y [kpc] or ra, dec [deg]; v_los [km/s]; optional v_err, "
                         "p_member), a Walker *_spec.dat or a Gaia Challenge file; several: see --out-dir")
    pr.add_argument("--model", help="model directory (default: the model shipped with galmass)")
    pr.add_argument("--distance", type=float, help="distance [kpc], for ra/dec positions")
    pr.add_argument("--p-member-min", type=float, default=0.5,
                    help="drop stars with a membership probability below this [0.5]")
    pr.add_argument("--fit-membership", action="store_true",
                    help="the catalogue has no p_member: fit a member + foreground mixture and drop "
                         "stars below --p-member-min (the step that makes training catalogues' membership)")
    pr.add_argument("--p-member-weights", action="store_true", default=None,
                    help="weight the stars by p_member in the inputs instead of trusting every star kept "
                         "(lower --p-member-min to keep the uncertain ones); default: as the model was trained")
    pr.add_argument("--format", choices=("auto", "table", "walker", "gaia"), default="auto",
                    help="catalogue format [auto]")
    pr.add_argument("--n-samples", type=int, default=1000, help="posterior samples [1000]")
    pr.add_argument("--out", help="write the profile to this file: .ecsv (units and provenance in the header) "
                                  "or .csv (columns only)")
    pr.add_argument("--plot", help="plot the profile to this image file (e.g. profile.png)")
    pr.add_argument("--samples", help="write the posterior samples of log10 M(< f R_h) [Msun] to this .npy or "
                                      ".h5 file (one catalogue)")
    pr.add_argument("--out-dir", help="several catalogues: write <name>.ecsv for each into this directory")
    pr.add_argument("--out-format", choices=("ecsv", "csv"), default="ecsv",
                    help="file format of the --out-dir profiles [ecsv]")
    pr.add_argument("--plots", action="store_true", help="with --out-dir: also plot each profile (<name>.png)")
    pr.set_defaults(func=run)

def _model_files(model: str | None) -> list:
    """The files of the model directory (the shipped one for None): inputs an output must not replace."""
    from pathlib import Path

    if model is None:
        try:
            from importlib import resources

            d = Path(str(resources.files("galmass") / "default_model"))
        except (ImportError, OSError, TypeError):
            return []
    else:
        d = Path(model)
    if not d.is_dir():
        return [d] if d.exists() else []
    try:
        return [f for f in d.rglob("*") if f.is_file()]  # an ensemble's members too
    except OSError:
        return []


def _check_predict_args(args: argparse.Namespace) -> None:
    """Every option of ``galmass predict`` checked before any work (one GalmassError line)."""
    from pathlib import Path

    from galmass.files import same_file
    from galmass.predict import check_n_samples, check_outputs
    from galmass.predict.catalogue import _distance, _probability

    if args.distance is not None:
        _distance(args.distance, "--distance")
    _probability(args.p_member_min, "--p-member-min")
    check_n_samples(args.n_samples, "--n-samples")
    if args.model is not None and not Path(args.model).is_dir():
        what = ("is a file, not a model directory" if Path(args.model).exists()
                else "the model directory does not exist")
        raise GalmassError(f"--model {args.model}: {what}; give a model directory (with model.json), "
                           f"or omit --model for the model shipped with galmass")
    for opt in ("--out", "--plot"):  # outputs never replace an input: the model's files, the catalogue
        path = getattr(args, opt[2:])
        for f in _model_files(args.model) if path else ():
            if same_file(path, f):
                raise GalmassError(f"{opt} {path} is a file of the model ({f}); galmass never overwrites "
                                   f"an input: choose another output file")
    check_outputs({"--out": args.out, "--plot": args.plot}, [args.catalog])


def _read(args: argparse.Namespace, path: str):
    from galmass.predict import read_catalog

    cat = read_catalog(path, distance_kpc=args.distance, p_member_min=args.p_member_min, format=args.format)
    if args.fit_membership:
        from galmass.predict.membership import fit_membership

        cat = fit_membership(cat, args.p_member_min)
        print(f"galmass: membership fitted (member + foreground mixture): kept {cat.n_stars} of "
              f"{cat.n_stars + cat.meta['n_dropped_p_member']} stars", file=sys.stderr)
    return cat


def write_samples(samples, radii_f, path: str) -> None:
    """Posterior samples (n_samples, n_radii) [log10 Msun] to ``.npy`` (the array) or ``.h5``
    (``log10_m`` and the radii ``f``), atomically."""
    from pathlib import Path

    import numpy as np

    from galmass.files import atomic_path

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".h5", ".hdf5"):
        raise GalmassError(f"--samples {path}: use a .npy or .h5 file name")
    with atomic_path(p) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, samples)
        else:
            import h5py

            with h5py.File(tmp, "w") as f:
                d = f.create_dataset("log10_m", data=samples)
                d.attrs["unit"] = "dex(solMass)"
                d.attrs["description"] = "posterior samples of log10 M(< f R_h) [Msun], one column per radius f"
                f.create_dataset("f", data=np.asarray(radii_f, dtype=float))


def run(args: argparse.Namespace) -> int:
    from galmass.predict import format_prediction, plot_profile, predict, write_prediction

    if len(args.catalog) > 1 or args.out_dir:
        return _run_many(args)
    args.catalog = args.catalog[0]
    _check_predict_args(args)  # outputs, options: refused before any work
    if args.samples:
        check_outputs_samples(args)
    cat = _read(args, args.catalog)
    table, samples = predict(cat, model=args.model, n_samples=args.n_samples,
                             membership_weights=args.p_member_weights, return_samples=True)
    if args.out:  # outputs first: a failure to write them is then the only line on stderr
        write_prediction(table, args.out)
    if args.plot:
        plot_profile(table, args.plot)
    if args.samples:
        write_samples(samples, table["f"], args.samples)
    print(format_prediction(table))
    if table.meta["ood"]:
        print(f"galmass: warning: outside the training domain, the prediction is an extrapolation: "
              f"{table.meta['ood_reason']}", file=sys.stderr)
    return 0


def check_outputs_samples(args: argparse.Namespace) -> None:
    from galmass.predict import check_outputs

    if not str(args.samples).lower().endswith((".npy", ".h5", ".hdf5")):
        raise GalmassError(f"--samples {args.samples}: use a .npy or .h5 file name")
    check_outputs({"--samples": args.samples}, [args.catalog, args.out, args.plot])


def _run_many(args: argparse.Namespace) -> int:
    """Several catalogues, one model load; a failure is reported and the others go on."""
    from pathlib import Path

    from tqdm import tqdm

    from galmass.errors import one_line
    from galmass.predict import load_model, plot_profile, predict, write_prediction
    from galmass.predict.api import model_fingerprint

    if not args.out_dir:
        raise GalmassError(f"{len(args.catalog)} catalogues need --out-dir DIR (one <name>.ecsv per catalogue)")
    for opt in ("out", "plot", "samples"):
        if getattr(args, opt):
            raise GalmassError(f"--{opt} names one file; with several catalogues use --out-dir"
                               + (" and --plots" if opt == "plot" else ""))
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise GalmassError(f"--out-dir {out} is a file, not a directory")
    _check_predict_args(argparse.Namespace(**{**vars(args), "catalog": args.catalog[0], "out": None, "plot": None}))
    out.mkdir(parents=True, exist_ok=True)
    stems: dict[str, int] = {}
    model = load_model(args.model)
    fingerprint = model_fingerprint(args.model)  # of the directory: the loaded model is passed in memory
    failed = 0
    for path in tqdm(args.catalog, desc="catalogues", unit="cat", file=sys.stderr, disable=None):
        stem = Path(path).name.split(".")[0] or "catalogue"
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f"{stem}_{stems[stem]}"
        try:
            cat = _read(args, path)
            table = predict(cat, model=model, n_samples=args.n_samples, membership_weights=args.p_member_weights)
            table.meta.update(model=args.model or "default (galmass/default_model)", model_fingerprint=fingerprint)
            write_prediction(table, out / f"{stem}.{args.out_format}")
            if args.plots:
                plot_profile(table, out / f"{stem}.png")
            if table.meta["ood"]:
                tqdm.write(f"galmass: warning: {path}: outside the training domain: {table.meta['ood_reason']}",
                           file=sys.stderr)
        except GalmassError as exc:
            failed += 1
            tqdm.write(f"galmass: error: {path}: {one_line(exc)}", file=sys.stderr)
    n = len(args.catalog)
    print(f"galmass: {n - failed} of {n} catalogues predicted into {out}" + (f"; {failed} failed" if failed else ""),
          file=sys.stderr)
    return 2 if failed else 0
