"""Numbered figure captions of the book, as in a paper: "**Figure 4.2** (the paper's
Fig. 6). text", shown under the figure they describe.

Each chapter makes one :class:`Captions` with its number and calls it after drawing a
figure; the call shows the figure and then its caption, so every figure of the rendered
book carries exactly one numbered caption (``tests/test_book_browser.py`` checks this).
"""

from __future__ import annotations

__all__ = ["Captions"]


class Captions:
    """The figure captions of one chapter, numbered ``chapter.1``, ``chapter.2``, ...

    Parameters
    ----------
    chapter : int
        The chapter's number (the notebook's, 1-7).
    """

    def __init__(self, chapter: int) -> None:
        self.chapter = int(chapter)
        self.n = 0

    def __call__(self, text: str, paper: str | None = None) -> str:
        """Show the figure just drawn, then its numbered caption; returns its label ("Figure 4.2").

        ``text`` is the caption (Markdown, may hold numbers computed by the run); ``paper``
        names the paper's counterpart ("Fig. 6"), if any.
        """
        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display

        if not plt.get_fignums():
            raise RuntimeError(f"caption {text[:40]!r}...: no figure was drawn")
        plt.show()  # the inline backend shows the open figures here, above the caption
        plt.close("all")  # shown once: a later caption must not show them again
        self.n += 1
        label = f"Figure {self.chapter}.{self.n}"
        ref = f" (the paper's {paper})" if paper else ""
        display(Markdown(f"**{label}**{ref}. {text.strip()}"))
        return label
