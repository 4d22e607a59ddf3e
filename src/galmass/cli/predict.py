"""``galmass predict CATALOG``: the posterior mass profile of a galaxy from its star catalogue."""

from __future__ import annotations

import argparse
import sys

from galmass.errors import GalmassError


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    pr = sub.add_parser("predict", help="posterior mass profile M(< f R_h) of a galaxy from its star catalogue")
    pr.add_argument("catalog", help="CSV/ECSV/FITS table (x, y [kpc] or ra, dec [deg]; v_los [km/s]; "
                                    "optional v_err, p_member), a Walker *_spec.dat or a Gaia Challenge file")
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
    pr.add_argument("--out", help="write the profile to this CSV file (.ecsv keeps the metadata)")
    pr.add_argument("--plot", help="plot the profile to this image file (e.g. profile.png)")
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
        return [f for f in d.iterdir() if f.is_file()]
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


def run(args: argparse.Namespace) -> int:
    from galmass.predict import format_prediction, plot_profile, predict, read_catalog, write_prediction

    _check_predict_args(args)  # outputs, options: refused before any work
    cat = read_catalog(args.catalog, distance_kpc=args.distance, p_member_min=args.p_member_min,
                       format=args.format)
    if args.fit_membership:
        from galmass.predict.membership import fit_membership

        cat = fit_membership(cat, args.p_member_min)
        print(f"galmass: membership fitted (member + foreground mixture): kept {cat.n_stars} of "
              f"{cat.n_stars + cat.meta['n_dropped_p_member']} stars", file=sys.stderr)
    table = predict(cat, model=args.model, n_samples=args.n_samples, membership_weights=args.p_member_weights)
    if args.out:  # outputs first: a failure to write them is then the only line on stderr
        write_prediction(table, args.out)
    if args.plot:
        plot_profile(table, args.plot)
    print(format_prediction(table))
    if table.meta["ood"]:
        print(f"galmass: warning: outside the training domain, the prediction is an extrapolation: "
              f"{table.meta['ood_reason']}", file=sys.stderr)
    return 0
