"""Numbered figure captions of the book (issue #20): one per figure, numbered within a chapter."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from galmass.book.captions import Captions  # noqa: E402


def test_captions_number_figures_within_a_chapter_and_close_them(capsys):
    caption = Captions(4)
    plt.subplots()
    assert caption("first", paper="Fig. 5") == "Figure 4.1"
    assert not plt.get_fignums()  # shown, hence closed: the next figure is a new one
    plt.subplots()
    assert caption("second") == "Figure 4.2"
    assert caption.n == 2


def test_a_caption_without_a_figure_is_an_error():
    plt.close("all")
    with pytest.raises(RuntimeError, match="no figure"):
        Captions(1)("nothing drawn")
