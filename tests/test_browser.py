"""The built book in a real browser: Debian's Chromium, headless, driven by Playwright.

Each page of _toc.yml is opened from file:// with every request outside the book blocked
and recorded. A page passes when nothing failed to load, nothing was requested from
outside, the console shows no error (this catches, for instance, a duplicated
``THEBE_JS_URL`` declaration or the widget manager calling MathJax 2's ``MathJax.Hub``),
its math is typeset by MathJax (no raw ``$$`` or ``\\[`` left), its images are loaded and
visible, and, on pages with a precomputed slider, moving the slider changes the figure.
The layout is checked at two widths: on a desktop screen (1280 px) no code block or printed
output needs a horizontal scroll bar (the 88-character lines fit) and the page itself never
scrolls sideways; on a phone (390 px) code may scroll inside its block, the page may not.
A full-page screenshot of the first chapter is saved under _build/screenshots/.

Run after `make book`: ``.venv/bin/pytest -m browser`` (``make book-check`` does both).
"""

import hashlib
from pathlib import Path

import pytest
from test_book_html import HTML, ROOT, toc_files

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
FIRST_CHAPTER = "book/sequences"
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = toc_files()

# JavaScript run in the page --------------------------------------------------------------

WAIT_FOR_MATHJAX = """
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  return Boolean(mj && mj.startup);
}
"""

# The article's text outside code blocks, where math would show up raw if not typeset.
ARTICLE_PROSE = """
() => {
  const article = document.querySelector("article") || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, mjx-container, .cell_output")
      .forEach((node) => node.remove());
  return copy.textContent;
}
"""

IMAGES = """
() => Array.from(document.querySelectorAll("article img")).map((img) => {
  const box = img.getBoundingClientRect();
  const style = getComputedStyle(img);
  return {src: img.getAttribute("src").slice(0, 80), complete: img.complete,
          naturalWidth: img.naturalWidth, width: box.width, height: box.height,
          hidden: style.display === "none" || style.visibility === "hidden",
          inWidget: Boolean(img.closest(".widget-subarea"))};
})
"""

# A fingerprint of the pixels of the image a widget shows.
WIDGET_IMAGE_PIXELS = """
(area) => {
  const img = area.querySelector("img.widget-image");
  if (!img || !img.complete || img.naturalWidth === 0) { return null; }
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}
"""


# Code blocks and printed outputs wider than their box, and the page's own overflow.
OVERFLOW = """
() => {
  const root = document.documentElement;
  const wide = Array.from(document.querySelectorAll("article pre"))
    .filter((pre) => pre.getClientRects().length && pre.scrollWidth > pre.clientWidth + 1)
    .map((pre) => {
      const lines = pre.textContent.split("\\n");
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), "");
      return `${pre.scrollWidth} px of text in a ${pre.clientWidth} px block: ` +
             JSON.stringify(longest.slice(0, 60));
    });
  return {page: root.scrollWidth - root.clientWidth, wide};
}
"""
PHONE = {"width": 390, "height": 844}


class PageVisit:
    """One page opened in Chromium, with everything that went wrong while it loaded."""

    def __init__(self, browser, docname):
        self.docname = docname
        self.problems = []
        path = HTML / f"{docname}.html"
        if not path.is_file():
            pytest.fail(f"{docname} is in _toc.yml but not built: run `make book`")
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(
            f"request failed: {request.url} ({request.failure})"))
        self.page.goto(path.as_uri(), wait_until="load")
        self.has_mathjax = self.page.evaluate(WAIT_FOR_MATHJAX)
        self.widget_count = self.page.locator(
            'script[type="application/vnd.jupyter.widget-view+json"]').count()
        if self.widget_count:
            self.page.wait_for_function(
                "(n) => document.querySelectorAll('.widget-subarea').length >= n",
                arg=self.widget_count, timeout=20_000)
        self.page.wait_for_timeout(300)  # late console messages

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.problems.append(f"request to outside the book: {url}")
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").is_file():
        pytest.fail("the book is not built: run `make book` (or `make book-check`) first")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def visits(browser):
    opened = {}

    def visit(docname):
        if docname not in opened:
            opened[docname] = PageVisit(browser, docname)
        return opened[docname]

    yield visit
    for page_visit in opened.values():
        page_visit.close()


def math_problems(visit):
    """Formulas left untypeset, or raw TeX in the text."""
    page = visit.page
    math_nodes = page.locator("article .math").count()
    if math_nodes == 0:
        return []
    if not visit.has_mathjax:
        return ["MathJax did not start"]
    problems = []
    typeset = page.locator("article mjx-container").count()
    if typeset < math_nodes:
        problems.append(f"only {typeset} of {math_nodes} formulas typeset")
    prose = page.evaluate(ARTICLE_PROSE)
    problems += [f"raw {raw!r} left in the text" for raw in ("$$", "\\[", "\\begin{", "\\frac")
                 if raw in prose]
    return problems


def image_problems(visit):
    """Images not loaded, or a first figure that cannot be seen."""
    images = visit.page.evaluate(IMAGES)
    problems = [f"image not loaded: {image['src']}" for image in images
                if not image["complete"] or image["naturalWidth"] == 0]
    figures = [image for image in images if not image["inWidget"]]
    if figures:
        first = figures[0]
        if first["hidden"] or first["width"] < 200 or first["height"] < 50:
            problems.append(f"the first figure is not visible: {first}")
    return problems


def slider_problems(visit):
    """Move each precomputed slider one step; its figure must change."""
    page = visit.page
    sliders = page.locator(".widget-subarea:has(.noUi-handle):has(img.widget-image)")
    problems = []
    for number in range(sliders.count()):
        area = sliders.nth(number)
        area.scroll_into_view_if_needed()
        readout = area.locator(".widget-readout").first
        before_label = readout.inner_text()
        before = area.evaluate(WIDGET_IMAGE_PIXELS)
        if before is None:
            problems.append(f"slider {number + 1}: its figure is not loaded")
            continue
        handle = area.locator(".noUi-handle").first
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        handle.press("ArrowLeft" if at_end else "ArrowRight")
        page.wait_for_function(
            "([area, label]) => area.querySelector('.widget-readout').textContent !== label"
            " && area.querySelector('img.widget-image')"
            " && area.querySelector('img.widget-image').complete",
            arg=[area.element_handle(), before_label], timeout=10_000)
        after = area.evaluate(WIDGET_IMAGE_PIXELS)
        if hashlib.sha256(after.encode()).digest() == hashlib.sha256(before.encode()).digest():
            problems.append(f"slider {number + 1}: moving it from {before_label} to "
                            f"{readout.inner_text()} did not change the figure")
    return problems


@pytest.mark.parametrize("docname", PAGES)
def test_page_in_the_browser(visits, docname):
    """Loads cleanly; math typeset; images visible; every precomputed slider works."""
    visit = visits(docname)
    problems = math_problems(visit) + image_problems(visit) + slider_problems(visit)
    overflow = visit.page.evaluate(OVERFLOW)
    problems += [f"code or output wider than its block: {wide}" for wide in overflow["wide"]]
    if overflow["page"] > 0:
        problems.append(f"the page scrolls sideways by {overflow['page']} px at 1280 px")
    problems += visit.problems  # console errors and requests, also while using the sliders
    assert not problems, f"{docname}:\n" + "\n".join(problems)


def test_no_page_scrolls_sideways_on_a_phone(browser):
    """At a phone's width wide code and tables scroll inside their own box; the page not."""
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        too_wide = []
        for docname in PAGES:
            page.goto((HTML / f"{docname}.html").as_uri(), wait_until="load")
            page.evaluate(WAIT_FOR_MATHJAX)
            overflow = page.evaluate(OVERFLOW)["page"]
            if overflow > 0:
                too_wide.append(f"{docname}: {overflow} px")
    finally:
        context.close()
    assert not too_wide, f"pages wider than a {PHONE['width']} px phone: {too_wide}"


def test_first_chapter_has_a_figure_and_a_working_widget(visits):
    visit = visits(FIRST_CHAPTER)
    assert visit.page.locator("article figure img").count() >= 1
    assert visit.widget_count >= 1
    assert visit.page.locator(".widget-subarea .noUi-handle").count() >= 1


def test_screenshot_of_the_first_chapter(visits):
    visit = visits(FIRST_CHAPTER)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{Path(FIRST_CHAPTER).name}.png"
    visit.page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    height = int.from_bytes(data[20:24], "big")  # from the PNG header
    assert height > 900, "the screenshot should hold the whole page, not just the viewport"


def test_dark_theme_switches_without_console_errors(browser):
    """The theme button switches the first chapter to the dark theme: the page says so, its
    text turns light, its figures stay visible, and the console shows no error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((HTML / f"{FIRST_CHAPTER}.html").as_uri(), wait_until="load")
        for _ in range(3):  # the button cycles light -> dark -> auto
            if page.evaluate("() => document.documentElement.dataset.theme") == "dark":
                break
            page.locator(".theme-switch-button").first.click()
            page.wait_for_timeout(200)
        assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        colour = page.evaluate(
            "() => getComputedStyle(document.querySelector('article p')).color")
        channels = [int(c) for c in colour[colour.index("(") + 1:-1].split(",")[:3]]
        assert sum(channels) / 3 > 128, f"the text stays dark on the dark theme: {colour}"
        images = page.evaluate(IMAGES)
        assert any(i["naturalWidth"] > 0 and not i["hidden"] for i in images)
        page.wait_for_timeout(300)
        assert not errors, errors
    finally:
        context.close()
