"""The PDF edition (_build/pdf/book.pdf, written by `make pdf`), read back as a reader would.

It must have a plausible number of pages, every chapter's title in its text and in its
bookmarks (part > chapter), page numbers in the footer, a table of contents whose numbers are
the pages the chapters start on, and no raw TeX or unfinished code on any page.

Run after `make pdf`: ``.venv/bin/pytest -m pdf`` (``make pdf-check`` does both).
"""

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.pdf

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "pdf" / "book.pdf"


@pytest.fixture(scope="module")
def book():
    from pypdf import PdfReader

    if not PDF.is_file():
        pytest.fail(f"{PDF} is missing: run `make pdf` first")
    reader = PdfReader(PDF)
    texts = [page.extract_text() or "" for page in reader.pages]
    return reader, texts


def _chapter_titles():
    """Each chapter's title, as the first heading of its source (notebook or Markdown)."""
    import nbformat

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    titles = []
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            path = ROOT / chapter["file"]
            if path.with_suffix(".ipynb").exists():
                nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
                text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            else:
                text = path.with_suffix(".md").read_text()
            titles.append(re.search(r"^# (.+)$", text, re.M).group(1).strip())
    return toc, titles


def _squash(text):
    """The text without spaces or line breaks, with typographic quotes made plain."""
    for fancy, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(fancy, plain)
    return "".join(text.split())


def _outline(reader):
    entries = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                entries.append((item.title, depth, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 0)
    return entries


def test_page_count_is_plausible(book):
    reader, _ = book
    toc, titles = _chapter_titles()
    # at least two pages a chapter, and far fewer than a runaway layout would make
    assert 2 * len(titles) < len(reader.pages) < 1500


def test_every_chapter_title_is_in_the_text_and_the_bookmarks(book):
    reader, texts = book
    toc, titles = _chapter_titles()
    whole = _squash(" ".join(texts))
    entries = _outline(reader)
    parts = [title for title, depth, _ in entries if depth == 0]
    chapters = [title for title, depth, _ in entries if depth == 1]
    for part in toc["parts"]:
        assert part["caption"] in parts
    for title in titles:
        plain = re.sub(r"[`*$]", "", title)
        assert _squash(plain) in whole, f"{title!r} is not in the PDF's text"
        assert any(_squash(plain) in _squash(c) for c in chapters), (
            f"{title!r} has no bookmark")


def test_table_of_contents_gives_the_pages_the_chapters_start_on(book):
    reader, texts = book
    toc, titles = _chapter_titles()
    starts = {title: page for title, depth, page in _outline(reader) if depth == 1}
    contents = next(k for k, text in enumerate(texts) if text.lstrip().startswith("Contents"))
    listing = texts[contents]
    for name, page in starts.items():
        number = re.sub(r"^\d+\.\s*", "", name).strip()
        line = next((ln for ln in listing.splitlines() if _squash(number)[:25] in _squash(ln)),
                    None)
        assert line is not None, f"{name!r} is not in the table of contents"
        assert line.rstrip().endswith(str(page)), f"{line!r}: the chapter starts on page {page}"
        assert _squash(number)[:25] in _squash(texts[page - 1]), (
            f"page {page} does not show {name!r}")


def test_pages_are_numbered(book):
    reader, texts = book
    total = len(reader.pages)
    for k in (0, total // 2, total - 1):
        assert f"{k + 1} / {total}" in texts[k], f"page {k + 1} has no page number"


def test_no_raw_tex_or_unfinished_code(book):
    reader, texts = book
    entries = _outline(reader)
    # The instructor guide explains the student edition's stubs, NotImplementedError by name.
    guide = [page for title, depth, page in entries if depth == 0 and "instructors" in title]
    after = [page for title, depth, page in entries if depth == 0 and page > guide[0]]
    instructor_pages = range(guide[0], min(after, default=len(texts) + 1))
    for k, text in enumerate(texts):
        for bad in ("$$", "\\begin{", "\\frac", "Traceback", "NotImplementedError"):
            if bad == "NotImplementedError" and k + 1 in instructor_pages:
                continue
            assert bad not in text, f"page {k + 1} shows {bad!r}"
