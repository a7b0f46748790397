"""Checks of the built HTML book (run `make book` first; `make book-check` does both).

Every page listed in _toc.yml was built; every image, script, stylesheet and internal link
resolves to a file of the book (and every in-page anchor to an id); nothing is loaded from
outside the book (no http(s) script, stylesheet, image, frame or CSS url); images have alt
text; pages with widgets carry the widget state their views need.
"""

import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execute  # noqa: E402

# The built book; BOOK_HTML points the checks at a build made elsewhere (--path-output).
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))

# Attributes that make the browser fetch something, per tag.
RESOURCE_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),
    "link": ("href",),  # stylesheets, preloads, icons; also rel=next/prev pages
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")
KNOWN_CDNS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "THEBE_JS_URL")


def toc_files():
    """The docnames of _toc.yml: the root and every file of every part, in order."""
    return execute.toc_docnames(ROOT)


class PageParser(HTMLParser):
    """Collects what a page fetches, where it links, its ids, images and widget scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.resources = []  # (tag, attribute, url)
        self.links = []  # href of <a>
        self.ids = set()
        self.images = []  # attribute dicts of <img>
        self.scripts = []  # (type, text) of inline scripts
        self._script_type = None
        self._script_text = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        for attribute in RESOURCE_ATTRIBUTES.get(tag, ()):
            value = attributes.get(attribute)
            if not value:
                continue
            if attribute == "srcset":
                for candidate in value.split(","):
                    self.resources.append((tag, attribute, candidate.strip().split(" ")[0]))
            else:
                self.resources.append((tag, attribute, value))
        if tag == "a" and attributes.get("href") is not None:
            self.links.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes)
        if tag == "script" and "src" not in attributes:
            self._script_type = attributes.get("type", "text/javascript")
            self._script_text = []

    def handle_data(self, data):
        if self._script_type is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script_type is not None:
            self.scripts.append((self._script_type, "".join(self._script_text)))
            self._script_type = None


_PARSED = {}


def parse(path):
    if path not in _PARSED:
        parser = PageParser()
        parser.feed(path.read_text(encoding="utf-8"))
        _PARSED[path] = parser
    return _PARSED[path]


def is_external(url):
    return url.startswith(("http://", "https://", "//", "ftp://"))


def local_target(page, url):
    """The file a relative URL of `page` points to, or None for data:/blob:/mailto: URLs."""
    if url.startswith(("data:", "blob:", "mailto:", "javascript:", "tel:")):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    if not parts.path:
        return page  # "#anchor": the page itself
    return (page.parent / unquote(parts.path)).resolve()


def html_pages():
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)


@pytest.fixture(scope="module", autouse=True)
def built_book():
    if not (HTML / "index.html").is_file():
        pytest.fail("the book is not built: run `make book` (or `make book-check`) first")


def test_every_toc_page_was_built():
    missing = [f for f in toc_files() if not (HTML / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


def test_every_page_loads_nothing_from_outside_the_book():
    problems = []
    for page in html_pages():
        parser = parse(page)
        for tag, attribute, url in parser.resources:
            if is_external(url):
                problems.append(f"{page.relative_to(HTML)}: <{tag} {attribute}={url!r}>")
        text = page.read_text(encoding="utf-8")
        problems += [f"{page.relative_to(HTML)}: mentions {cdn}" for cdn in KNOWN_CDNS
                     if cdn in text]
    assert not problems, "resources from outside the book:\n" + "\n".join(problems)


def test_stylesheets_fetch_nothing_from_outside():
    problems = []
    for sheet in sorted(HTML.rglob("*.css")):
        for match in CSS_URL.finditer(sheet.read_text(encoding="utf-8", errors="replace")):
            url = match.group(1) or match.group(2)
            if is_external(url):
                problems.append(f"{sheet.relative_to(HTML)}: {url}")
    assert not problems, "stylesheets loading from outside:\n" + "\n".join(problems)


def test_every_resource_and_internal_link_resolves():
    problems = []
    for page in html_pages():
        parser = parse(page)
        urls = [url for _, _, url in parser.resources] + parser.links
        for url in urls:
            if is_external(url):
                continue  # <a> links to papers are fine; resources were checked above
            target = local_target(page, url)
            if target is None:
                continue
            if not target.exists():
                problems.append(f"{page.relative_to(HTML)}: {url} -> missing file")
                continue
            fragment = urlsplit(url).fragment
            if fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{page.relative_to(HTML)}: {url} -> no id {fragment!r}")
    assert not problems, "broken references:\n" + "\n".join(problems)


def test_images_exist_and_have_alt_text():
    problems = []
    count = 0
    for page in html_pages():
        for image in parse(page).images:
            count += 1
            src = image.get("src", "")
            if not src.startswith("data:"):
                target = local_target(page, src)
                if target is None or not target.is_file() or target.stat().st_size == 0:
                    problems.append(f"{page.relative_to(HTML)}: image {src} missing or empty")
            if not (image.get("alt") or "").strip():
                problems.append(f"{page.relative_to(HTML)}: image {src} has no alt text")
    assert count > 0, "the book has no image at all"
    assert not problems, "\n".join(problems)


def test_widget_views_have_their_state_and_local_manager():
    pages_with_widgets = 0
    for page in html_pages():
        parser = parse(page)
        views = [json.loads(text) for kind, text in parser.scripts
                 if kind == "application/vnd.jupyter.widget-view+json"]
        if not views:
            continue
        pages_with_widgets += 1
        states = [json.loads(text)["state"] for kind, text in parser.scripts
                  if kind == "application/vnd.jupyter.widget-state+json"]
        assert len(states) == 1, f"{page.name}: expected one widget state, got {len(states)}"
        models = states[0]
        for view in views:
            assert view["model_id"] in models, f"{page.name}: view without state"
        # A precomputed slider works in the browser only through its jslink.
        names = {model["model_name"] for model in models.values()}
        if "StackModel" in names:
            assert "LinkModel" in names, f"{page.name}: a Stack without its slider link"
        scripts = [url for tag, _, url in parser.resources if tag == "script"]
        assert any("_static/require.js" in url for url in scripts), page.name
        assert any("_static/html-manager/embed-amd.js" in url for url in scripts), page.name
    assert pages_with_widgets > 0, "no page of the book has a widget"


def test_math_is_rendered_by_the_local_mathjax():
    pages_with_math = 0
    for page in html_pages():
        text = page.read_text(encoding="utf-8")
        if 'class="math' not in text:
            continue
        pages_with_math += 1
        scripts = [url for tag, _, url in parse(page).resources if tag == "script"]
        assert any("_static/mathjax/tex-chtml.js" in url for url in scripts), page.name
    assert pages_with_math > 0
