"""Exceptions raised by galmass for bad input.

Every user-facing problem (a missing column, too few stars, NaN values, an unknown
suite, an unreadable snapshot, ...) is reported as a :class:`GalmassError` whose message
names the problem in one line, so that command-line tools can print it without a traceback.
"""

from __future__ import annotations


class GalmassError(ValueError):
    """A clear, one-line error about bad input or configuration."""


class UnmeasurableDispersion(GalmassError):
    """The velocity errors of a catalogue account for all of its observed dispersion: its
    intrinsic ``sigma_los`` cannot be measured (``predict`` refuses it; a training projection
    so observed is left out of the dataset, its galaxy's other projections kept)."""


def one_line(text: object) -> str:
    """``str(text)`` with every run of whitespace (newlines included) folded to one space."""
    return " ".join(str(text).split())


class GalmassWarning(UserWarning):
    """Something galmass did about the input on its own (e.g. dropped duplicate stars, moved
    a corrupt file aside); the command line prints it as one ``galmass: warning:`` line."""
