"""The ``galmass`` command line.

``galmass suites build --config C``    build the mock suites (HDF5 shards, Dask)
``galmass suites summary --config C``  print what makes the suites differ
``galmass dataset build --config C``   project the suites: KDE maps, scalars, labels, index
``galmass train --config C``           train the CNN + flow models of the profile (resumable)
``galmass evaluate --config C``        posterior predictions and metrics.json
``galmass ablation --config C``        the joint CNN with the paper's literal target (chapter 3)
``galmass paths --config C``           where the profile's data, models, results and book go
``galmass predict CATALOG [--model DIR] [--distance KPC] ...``  mass profile of a galaxy's stars

C is a run profile, e.g. configs/default.yaml. Each command is a module of this package
(``add_parser`` and ``run``). Bad input gives one line and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from galmass.cli import ablation, dataset, evaluate, paths, predict, suites, train
from galmass.errors import GalmassError, one_line
from galmass.files import write_problem

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"galmass: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="galmass", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)
    for command in (suites, dataset, train, evaluate, ablation, paths, predict):
        command.add_parser(sub)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one line, ``galmass: warning: ...``, on stderr."""
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
