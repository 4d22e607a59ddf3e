"""A Sphinx extension for the book (``sphinx.extra_extensions`` in ``_config.yml``): pages that
load without console errors.

- Extensions that add their scripts on ``env-before-read-docs`` (sphinx-thebe, sphinx-togglebutton)
  add them twice when Jupyter Book reads the sources twice, and a second
  ``const THEBE_JS_URL`` is a JavaScript error: duplicate scripts are dropped from every page.
- The theme's colour mode defaults to ``""`` for a new reader, which its JavaScript reports
  as an error: the default is ``"light"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup"]


def _key(script: Any) -> tuple:
    """A script's identity: its file (None and "" alike: an inline script) and attributes
    (the inline body among them), not its priority."""
    attrs = getattr(script, "attributes", {}) or {}
    name = getattr(script, "filename", script) if not isinstance(script, str) else script
    return (str(name or ""), tuple(sorted((k, str(v)) for k, v in attrs.items() if k != "priority")))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for s in scripts:
        k = _key(s)
        if k not in seen:
            seen.add(k)
            kept.append(s)
    context["script_files"] = kept


def _default_mode(app, config) -> None:
    ctx = dict(config.html_context or {})
    ctx.setdefault("default_mode", "light")
    config.html_context = ctx


def setup(app) -> dict[str, Any]:
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
