"""Sphinx extension: keep the book's pages self-contained and free of console errors.

The book loads MathJax 3 and the ipywidgets HTML manager from its own ``_static/`` folder
(see ``book/_vendor``). Two things need a hand:

* The HTML manager still typesets widget labels through MathJax 2's
  ``MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])``. With MathJax 3 loaded there is
  no ``MathJax.Hub``, so every widget page would throw a ``TypeError``. A small script gives
  MathJax 3 that one call, mapped onto ``MathJax.typesetPromise``.
* The widget manager finds its fonts next to the module it was loaded as, which RequireJS
  places next to the page by default (``book/@jupyter-widgets/...``, which does not exist).
  Pages with widgets get a RequireJS configuration, read by ``require.js`` when it loads,
  that maps the module to ``_static/html-manager/``.
* The book's stylesheet (``book/_ext/static/book.css``: code blocks that fit 88-character
  lines at desktop width, wrapped printed output, long inline names that break on phones)
  is added to every page.
* The vendored files must be there: a build without them would quietly fall back to broken
  pages, so the build stops with a message that says how to restore them.
"""

import json
from pathlib import Path

from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

# Runs in <head>. By the window's "load" event MathJax 3 (loaded with `defer`) has replaced
# its configuration object by the real `MathJax`, and the widget manager renders only on
# "load", after this listener (registered earlier, while the page was parsed).
MATHJAX2_QUEUE_SHIM = """
window.addEventListener("load", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") { return; }
  mj.Hub = {
    Queue: function (job) {
      var element = Array.isArray(job) ? job[2] : null;
      if (!element) { return; }
      mj.startup.promise
        .then(function () { return mj.typesetPromise([element]); })
        .catch(function (err) { console.warn("MathJax could not typeset a widget:", err); });
    }
  };
});
""".strip()


# The folder, under _static/, that holds embed-amd.js and its fonts.
HTML_MANAGER_DIR = "html-manager"


def _requirejs_config(relative_dir: str) -> str:
    paths = {"@jupyter-widgets/html-manager/dist": relative_dir}
    return f"var require = {json.dumps({'paths': paths})};"


def _configure_requirejs(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """On pages that load the widget manager, tell RequireJS where its module lives."""
    if app.builder.format != "html":
        return
    js_files = NbMetadataCollector.get_js_files(app.env, pagename)
    if "ipywidgets_state" not in js_files:
        return
    # relative to the page, like RequireJS's default baseUrl
    relative_dir = context["pathto"](f"_static/{HTML_MANAGER_DIR}", 1)
    app.add_js_file(None, body=_requirejs_config(relative_dir), priority=200)


def _check_vendored_files(app: Sphinx) -> None:
    needed = [app.config.mathjax_path, *app.config.nb_ipywidgets_js]
    static_dirs = [Path(app.confdir, entry) for entry in app.config.html_static_path]
    for relative in needed:
        if "://" in relative:
            raise ConfigError(
                f"{relative!r} would be loaded from outside the book; serve it from "
                "book/_vendor/dist instead"
            )
        if not any((folder / relative).is_file() for folder in static_dirs):
            raise ConfigError(
                f"{relative} is missing from {', '.join(map(str, static_dirs))}; "
                "run `bash book/_vendor/refresh.sh` to restore the vendored JavaScript"
            )


def _share_html_handlers(app: Sphinx) -> None:
    """Give the single-page builder the HTML builder's node handlers it lacks.

    Sphinx looks a builder's node handlers up by its name and only falls back to its format
    ("html") when no extension registered any under the name. One of the book's extensions
    registers some for "singlehtml", so myst-nb's (for hidden code cells, for instance)
    would be missing there and the single-page edition, which the PDF is printed from,
    would fail to build.
    """
    handlers = app.registry.translation_handlers
    if app.builder.name in handlers and app.builder.format == "html":
        for node, pair in handlers.get("html", {}).items():
            handlers[app.builder.name].setdefault(node, pair)


STYLESHEET_DIR = Path(__file__).parent / "static"


def _add_stylesheet_dir(app: Sphinx, config) -> None:
    config.html_static_path.append(str(STYLESHEET_DIR))


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _add_stylesheet_dir)
    app.add_css_file("book.css", priority=900)
    app.connect("builder-inited", _check_vendored_files)
    app.connect("builder-inited", _share_html_handlers)
    # after myst-nb's own handler (priority 500), which registers the page's widget scripts
    app.connect("html-page-context", _configure_requirejs, priority=600)
    app.add_js_file(None, body=MATHJAX2_QUEUE_SHIM, priority=200)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
