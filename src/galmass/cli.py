"""The ``galmass`` command line.

``galmass suites build --config C``    build the mock suites (HDF5 shards, Dask)
``galmass suites summary --config C``  print what makes the suites differ
``galmass dataset build --config C``   project the suites: KDE maps, scalars, labels, index
``galmass train --config C``           train the CNN + flow models of the profile (resumable)
``galmass evaluate --config C``        posterior predictions and metrics.json
``galmass predict CATALOG [--model DIR] [--distance KPC] ...``  mass profile of a galaxy's stars

C is a run profile, e.g. configs/default.yaml. Bad input gives one line and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from .errors import GalmassError

__all__ = ["main"]


def _cmd_suites_build(args: argparse.Namespace) -> int:
    from .config import load_config
    from .parallel import lazy_client
    from .storage import build_suite

    cfg = load_config(args.config)
    names = args.suite or cfg.suites.names
    with lazy_client(args.scheduler or cfg.scheduler, cfg.n_workers) as client:
        for name in names:
            res = build_suite(name, cfg.suites.n_galaxies, cfg.seed, cfg.suites_dir,
                              shard_size=cfg.suites.shard_size, n_max_stars=cfg.suites.n_max_stars,
                              client=client, progress=not args.quiet, replace_stale=args.replace_stale)
            print(f"suite {name}: {len(res.shards)} shards in {res.directory} ({res.n_built} built now)")
    return 0


def _summary_table(per_suite: dict[str, dict[str, np.ndarray]]) -> str:
    rows = [("dm_slope", "DM log-slope at 0.01 r200"), ("r_half", "R_h [kpc] (projected)"),
            ("beta0", "central anisotropy beta0"), ("r_a_over_rhalf", "r_a / r_1/2"),
            ("n_stars", "star particles (nominal)"), ("log_mstar", "log10 M* [Msun]"),
            ("log_m_rh", "log10 M(<R_h) [Msun]")]
    lines = []
    for suite, summ in per_suite.items():
        lines.append(f"suite {suite} ({len(summ['r_half'])} galaxies): percentiles 5 / 16 / 50 / 84 / 95")
        for key, label in rows:
            v = summ[key]
            v = v[np.isfinite(v)]
            if key == "n_stars":
                pct = " ".join(f"{x:>9.3g}" for x in np.percentile(v, [5, 16, 50, 84, 95]))
            else:
                pct = " ".join(f"{x:>9.3f}" for x in np.percentile(v, [5, 16, 50, 84, 95])) if len(v) else "(none finite)"
            lines.append(f"  {label:<30s} {pct}")
    return "\n".join(lines)


def _cmd_suites_summary(args: argparse.Namespace) -> int:
    from .config import load_config
    from .storage import load_built_suite
    from .suites import SUITES, load_suite, suite_summary

    per_suite = {}
    if args.config:
        cfg = load_config(args.config)
        names = args.suite or cfg.suites.names
        for name in names:
            d = cfg.suites_dir / name
            if d.exists() and any(d.glob("shard_*.h5")):
                gals = load_built_suite(d)
            else:
                gals = load_suite(name, args.n, cfg.seed, cfg.suites.n_max_stars)
            per_suite[name] = suite_summary(gals)
    else:
        for name in args.suite or SUITES:
            per_suite[name] = suite_summary(load_suite(name, args.n, args.seed))
    print(_summary_table(per_suite))
    return 0


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from .dataset import cli_build

    res = cli_build(args.config, scheduler=args.scheduler, progress=not args.quiet,
                    replace_stale=args.replace_stale)
    print(f"dataset: {len(res.shards)} shards in {res.directory} ({res.n_built} built now, "
          f"{len(res.skipped)} galaxies skipped); index {res.index}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .training import train_all

    models = train_all(args.config, progress=not args.quiet, replace_stale=args.replace_stale)
    for name, m in models.items():
        sec = m.info.get("seconds", {})
        print(f"model {name}: suites {m.info['spec']['suites']}, {m.info.get('n_train')} training projections, "
              f"CNN {sec.get('cnn', 0):.0f} s, flow {sec.get('flow', 0):.0f} s")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .training import evaluate_all

    print(f"metrics: {evaluate_all(args.config, progress=not args.quiet)}")
    return 0


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
    import math
    from pathlib import Path

    from .files import same_file
    from .predict import MAX_KPC, MIN_N_SAMPLES, check_outputs

    if args.distance is not None and not (math.isfinite(args.distance) and 0 < args.distance <= MAX_KPC):
        raise GalmassError(f"--distance must be the distance in kpc, a positive number up to {MAX_KPC:g}, "
                           f"got {args.distance:g} (e.g. --distance 76 for Draco)")
    if not 0.0 <= args.p_member_min <= 1.0:  # also refuses nan
        raise GalmassError(f"--p-member-min must be a probability in [0, 1], got {args.p_member_min:g} "
                           f"(default 0.5)")
    if args.n_samples < MIN_N_SAMPLES:
        raise GalmassError(f"--n-samples {args.n_samples} is too few for the 16th-84th percentiles of "
                           f"the posterior: use at least {MIN_N_SAMPLES} (default 1000)")
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


def _cmd_predict(args: argparse.Namespace) -> int:
    from .predict import format_prediction, plot_profile, predict, read_catalog, write_prediction

    _check_predict_args(args)  # outputs, options: refused before any work
    cat = read_catalog(args.catalog, distance_kpc=args.distance, p_member_min=args.p_member_min,
                       format=args.format)
    table = predict(cat, model=args.model, n_samples=args.n_samples)
    if args.out:  # outputs first: a failure to write them is then the only line on stderr
        write_prediction(table, args.out)
    if args.plot:
        plot_profile(table, args.plot)
    print(format_prediction(table))
    if table.meta["ood"]:
        print(f"galmass: warning: outside the training domain, the prediction is an extrapolation: "
              f"{table.meta['ood_reason']}", file=sys.stderr)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"galmass: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="galmass", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("suites", help="mock galaxy suites")
    ss = s.add_subparsers(dest="action", required=True)
    b = ss.add_parser("build", help="build the mock suites of a run profile into HDF5 shards")
    b.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    b.add_argument("--suite", action="append", help="only this suite (repeatable)")
    b.add_argument("--scheduler", help="address of an existing Dask scheduler")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--replace-stale", action="store_true",
                   help="move aside (never delete) a suite built with other parameters or code, and rebuild")
    b.set_defaults(func=_cmd_suites_build)
    m = ss.add_parser("summary", help="print the distributions that make the suites differ")
    m.add_argument("--config", help="run profile: summarise its built suites (or generate --n)")
    m.add_argument("--suite", action="append", help="only this suite (repeatable)")
    m.add_argument("--n", type=int, default=200, help="galaxies per suite when generating [200]")
    m.add_argument("--seed", type=int, default=0, help="seed when generating without a config")
    m.set_defaults(func=_cmd_suites_summary)
    d = sub.add_parser("dataset", help="projection dataset (KDE maps, scalars, labels)")
    ds = d.add_subparsers(dest="action", required=True)
    db = ds.add_parser("build", help="project the built suites and write the dataset shards and index")
    db.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    db.add_argument("--scheduler", help="address of an existing Dask scheduler")
    db.add_argument("--quiet", action="store_true", help="no progress bars")
    db.add_argument("--replace-stale", action="store_true",
                    help="move aside (never delete) a dataset built with other parameters or code, and rebuild")
    db.set_defaults(func=_cmd_dataset_build)
    t = sub.add_parser("train", help="train the CNN + flow models of a run profile (resumable)")
    t.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--replace-stale", action="store_true",
                   help="move aside (never delete) a model trained with other settings, and retrain")
    t.set_defaults(func=_cmd_train)
    e = sub.add_parser("evaluate", help="posterior predictions of the trained models and metrics.json")
    e.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_cmd_evaluate)
    pr = sub.add_parser("predict", help="posterior mass profile M(< f R_h) of a galaxy from its star catalogue")
    pr.add_argument("catalog", help="CSV/ECSV/FITS table (x, y [kpc] or ra, dec [deg]; v_los [km/s]; "
                                    "optional v_err, p_member), a Walker *_spec.dat or a Gaia Challenge file")
    pr.add_argument("--model", help="model directory (default: the model shipped with galmass)")
    pr.add_argument("--distance", type=float, help="distance [kpc], for ra/dec positions")
    pr.add_argument("--p-member-min", type=float, default=0.5,
                    help="drop stars with a membership probability below this [0.5]")
    pr.add_argument("--format", choices=("auto", "table", "walker", "gaia"), default="auto",
                    help="catalogue format [auto]")
    pr.add_argument("--n-samples", type=int, default=1000, help="posterior samples [1000]")
    pr.add_argument("--out", help="write the profile to this CSV file (.ecsv keeps the metadata)")
    pr.add_argument("--plot", help="plot the profile to this image file (e.g. profile.png)")
    pr.set_defaults(func=_cmd_predict)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one line, ``galmass: warning: ...``, on stderr."""
    from .errors import one_line

    text = one_line(message)
    if not issubclass(category, UserWarning):  # e.g. numpy's RuntimeWarning (galmass's are UserWarnings)
        text = f"{category.__name__}: {text}"
    try:
        print(f"galmass: warning: {text}", file=sys.stderr if file is None else file)
    except (OSError, ValueError):
        pass


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the flush at exit cannot fail again
    (as the Python documentation on SIGPIPE recommends)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    Bad input gives one clear line on stderr (``galmass: error: ...``) and status 2, never a
    traceback: galmass errors, usage errors, and a file system that refuses a write (full,
    read-only, no permission). Warnings print as one line ``galmass: warning: ...``. A closed
    pipe on stdout (``galmass predict ... | head -1``) ends quietly with status 141
    (128 + SIGPIPE, as a shell reports it); Ctrl-C with 130.
    """
    import warnings

    from .errors import one_line
    from .files import write_problem

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage error (one line, status 2) or --help (status 0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = args.func(args)
            sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except GalmassError as exc:
        print(f"galmass: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("galmass: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. a full disk, a read-only file system, no permission
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"galmass: error: {where}{write_problem(exc) or one_line(exc.strerror or exc)}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
