"""Print the book as one PDF with Debian's Chromium: ``make pdf`` writes _build/pdf/book.pdf.

The input is the single-page HTML edition (``jupyter-book build . --builder singlehtml``,
which ``make pdf`` runs first; it reuses the notebooks executed for the HTML book). The page
is opened in headless Chromium through Playwright, MathJax typesets the equations, every
solution dropdown is opened, a title page and a table of contents are put in front, and
Chromium prints it with page numbers in the footer and a PDF outline (bookmarks) made from
the headings. The table of contents is printed twice: first to learn on which page each
chapter starts (from the outline of the first print), then with those numbers filled in.
The table has the same length both times, so the numbers stay right.

Run: ``.venv/bin/python tools/make_pdf.py [--html DIR] [--out FILE]``.
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# Print styles: the page without the site's navigation, code that wraps instead of running
# off the page, figures that fit, each chapter on a new page.
PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm 18mm 16mm; }
@media print {
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article,
  .bd-footer, .bd-footer-article, .prev-next-area, .headerlink, .toggle-button,
  .copybtn, .skip-link, #pst-back-to-top, .bd-search, .theme-switch-button,
  .sidebar-toggle, .pst-scrollable-table-container::after { display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-page-width, .bd-container,
  .bd-container__inner, article { max-width: 100% !important; width: 100% !important;
    margin: 0 !important; padding: 0 !important; }
  body { font-size: 10.5pt; }
  pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word;
    font-size: 8pt !important; }
  img, svg, canvas, .cell_output img { max-width: 100% !important; height: auto !important; }
  .cell_output { page-break-inside: avoid; }
  figure, table { page-break-inside: avoid; }
  h1, h2, h3 { page-break-after: avoid; }
  section.pdf-chapter { break-before: page; }
  details { display: block; }
  .toggle-hidden, .toggle-details__container { display: block !important;
    visibility: visible !important; height: auto !important; opacity: 1 !important; }
  #pdf-front { break-after: page; }
  #pdf-toc { break-after: page; }
  .pdf-title { font-size: 26pt; font-weight: bold; margin-top: 35vh; text-align: center; }
  .pdf-toc-title { font-size: 18pt; font-weight: bold; margin-bottom: 0.6em; }
  h1.pdf-part { break-before: page; font-size: 24pt; margin-top: 30vh; text-align: center;
    break-after: page; }
  #pdf-front p { text-align: center; }
  #pdf-toc ol { list-style: none; padding-left: 0; }
  #pdf-toc li { display: flex; gap: 0.5em; margin: 0.15em 0; }
  #pdf-toc li.part { font-weight: bold; margin-top: 0.8em; }
  #pdf-toc .dots { flex: 1; border-bottom: 1px dotted #888; margin-bottom: 0.3em; }
  #pdf-toc .page { min-width: 2.5em; text-align: right; }
}
"""

WAIT_FOR_MATHJAX = """
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  if (mj && mj.typesetPromise) { await mj.typesetPromise(); }
  return Boolean(mj && mj.startup);
}
"""

# Lift each chapter of the single page (the toctree put them inside the opening page's last
# section, three heading levels down) to the top, one part heading above each part's first
# chapter, headings re-levelled (part h1, chapter h2, its sections h3 ...) so that Chromium's
# outline reads part > chapter > section; open the dropdowns; remove the site's navigation
# (its headings would enter the outline); put a title page and a table of contents in front,
# with page numbers when given. Returns the chapters' titles in order.
PREPARE = r"""
({title, subtitle, parts, pages}) => {
  const main = document.querySelector("article") || document.querySelector("main");
  document.querySelectorAll(".bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, " +
      ".bd-header-article, .bd-footer, .bd-footer-article, .prev-next-area, .headerlink, " +
      "#jb-print-docs-body > h1, #jb-print-toc")
    .forEach((n) => n.remove());
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  document.querySelectorAll(".toggle-hidden").forEach((n) => n.classList.remove("toggle-hidden"));
  let chapters = Array.from(main.querySelectorAll("section.pdf-chapter"));
  if (chapters.length === 0) {
    chapters = Array.from(main.querySelectorAll("section")).filter((section) =>
      section.querySelector(":scope > h3") && !section.parentElement.closest("section > h3 ~ *"));
    const expected = parts.reduce((n, part) => n + part.chapters, 0);
    if (chapters.length !== expected) {
      throw new Error(`found ${chapters.length} chapters in the page, _toc.yml has ${expected}`);
    }
    const relevel = (root, from, by) => {
      for (let level = 6; level >= from; level--) {
        root.querySelectorAll("h" + level).forEach((h) => {
          const to = document.createElement("h" + Math.min(6, level - by));
          for (const attr of h.attributes) { to.setAttribute(attr.name, attr.value); }
          to.innerHTML = h.innerHTML;
          h.replaceWith(to);
        });
      }
    };
    let k = 0;
    for (const part of parts) {
      const heading = document.createElement("h1");
      heading.className = "pdf-part";
      heading.textContent = part.caption;
      main.append(heading);
      for (let c = 0; c < part.chapters; c++, k++) {
        const chapter = chapters[k];
        chapter.classList.add("pdf-chapter");
        relevel(chapter, 3, 1);
        main.append(chapter);
      }
    }
  }
  const names = chapters.map((c) =>
    c.querySelector(":scope > h2").textContent.replace(/\s+/g, " ").trim());
  let front = document.getElementById("pdf-front");
  if (!front) {
    front = document.createElement("div");
    front.id = "pdf-front";
    main.prepend(front);
  }
  front.innerHTML = "";
  const t = document.createElement("div");
  t.className = "pdf-title";
  t.textContent = title;
  const p = document.createElement("p");
  p.textContent = subtitle;
  front.append(t, p);
  let toc = document.getElementById("pdf-toc");
  if (!toc) {
    toc = document.createElement("nav");
    toc.id = "pdf-toc";
    front.after(toc);
  }
  toc.innerHTML = '<div class="pdf-toc-title">Contents</div>';
  const list = document.createElement("ol");
  let k = 0;
  for (const part of parts) {
    const item = document.createElement("li");
    item.className = "part";
    item.textContent = part.caption;
    list.append(item);
    for (let c = 0; c < part.chapters; c++, k++) {
      const row = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = names[k];
      const dots = document.createElement("span");
      dots.className = "dots";
      const page = document.createElement("span");
      page.className = "page";
      page.textContent = pages ? String(pages[k]) : "000";
      row.append(label, dots, page);
      list.append(row);
    }
  }
  toc.append(list);
  // each chapter's sections (its h3 headings after re-levelling), for the bookmarks
  const sections = chapters.map((c) =>
    Array.from(c.querySelectorAll(":scope > section > h3")).map((h) =>
      h.textContent.replace(/\s+/g, " ").trim()));
  return {names, sections};
}
"""

FOOTER = ('<div style="font-size:8pt;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def _outline(pdf_path):
    """(title, first page from 1) of every entry of the PDF's outline, and the page count."""
    from pypdf import PdfReader

    reader = PdfReader(pdf_path)
    found = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return found, len(reader.pages)


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)*)\.\s")


def _page_of(heading, entries):
    """The page of a heading, looked up in Chromium's outline of the print.

    Chromium names each heading by its text, sometimes twice over ("4.3. 4.3. A bound ...")
    and with line breaks dropped, so a numbered heading is found by its number and an
    unnumbered one by its text without spaces.
    """
    number = _NUMBER.match(heading)
    for title, page in entries:
        if number:
            found = _NUMBER.match(title)
            if found and found.group(1) == number.group(1):
                return page
        elif _squash(heading) in _squash(title):
            return page
    raise RuntimeError(f"{heading!r} is not in the PDF's outline")


def _squash(text):
    return "".join(text.split())


def _chapter_pages(chapters, entries):
    """The page each chapter starts on."""
    return [_page_of(name, entries) for name in chapters]


def _finish(path, entries, *, title, intro, parts, chapters, sections):
    """Replace Chromium's flat outline by part > chapter > section bookmarks, and set the
    title and author (one pass over the file)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(path))
    if "/Outlines" in writer._root_object:
        del writer._root_object["/Outlines"]
    def bookmark(title, page, parent=None):  # page counted from 1
        return writer.add_outline_item(title=title, page_number=page - 1, parent=parent)

    bookmark(intro, entries[0][1])
    k = 0
    for part in parts:
        first = _page_of(chapters[k], entries)
        parent = bookmark(part["caption"], first - 1)  # its own page, before its first chapter
        for _ in range(part["chapters"]):
            chapter = bookmark(chapters[k], _page_of(chapters[k], entries), parent)
            for heading in sections[k]:
                bookmark(heading, _page_of(heading, entries), chapter)
            k += 1
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": title, "/Author": "The rnnlib course authors"})
    with open(path, "wb") as handle:
        writer.write(handle)


def parts_of(toc):
    """[{"caption", "chapters"}] of a Jupyter Book _toc.yml: each part and its chapter count."""
    return [{"caption": part["caption"], "chapters": len(part["chapters"])}
            for part in toc["parts"]]


def make_pdf(html_dir, out, *, title, subtitle, parts, root="book/intro"):
    from playwright.sync_api import sync_playwright

    page_file = Path(html_dir) / f"{root}.html"  # index.html only redirects to it
    if not page_file.is_file():
        raise SystemExit(f"{page_file} is missing: build it with "
                         "`jupyter-book build . --builder singlehtml` (make pdf does)")
    # The single page refers to _static/ and _images/ relative to the build's top folder
    # although it is written one folder down: a copy at the top finds them.
    index = Path(html_dir) / "_pdf_edition.html"
    index.write_text(page_file.read_text(encoding="utf-8"), encoding="utf-8")
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    outside = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        page = browser.new_page()

        def route(r):
            if r.request.url.startswith(LOCAL_SCHEMES):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        start = time.perf_counter()
        page.goto(index.as_uri(), wait_until="load", timeout=120_000)
        if not page.evaluate(WAIT_FOR_MATHJAX):
            raise RuntimeError("MathJax did not start: the equations would print as TeX")
        _progress(f"page loaded and its equations typeset in {time.perf_counter() - start:.0f} s")
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        options = dict(format="A4", print_background=True, display_header_footer=True,
                       header_template="<div></div>", footer_template=FOOTER,
                       outline=True, tagged=True,
                       margin={"top": "16mm", "bottom": "18mm", "left": "15mm",
                               "right": "15mm"})
        arguments = {"title": title, "subtitle": subtitle, "parts": parts, "pages": None}
        found = page.evaluate(PREPARE, arguments)
        chapters, sections = found["names"], found["sections"]
        start = time.perf_counter()
        page.pdf(path=str(out), **options)
        entries, _ = _outline(out)
        pages = _chapter_pages(chapters, entries)
        _progress(f"first print, to learn the chapters' pages, in "
                  f"{time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        page.evaluate(PREPARE, {**arguments, "pages": pages})
        page.pdf(path=str(out), **options)
        entries, total = _outline(out)
        _progress(f"second print, with the page numbers in the contents, in "
                  f"{time.perf_counter() - start:.0f} s")
        if _chapter_pages(chapters, entries) != pages:
            raise RuntimeError("the chapters moved between the two prints: "
                               "the table of contents would be wrong")
        intro_title = page.evaluate(
            "() => (document.querySelector('article h1:not(.pdf-part)') || {}).textContent")
        browser.close()
    if outside:
        raise RuntimeError(f"the page asked for {len(outside)} resources from outside the "
                           f"book, e.g. {outside[0]}")
    _finish(out, entries, title=title, intro=(intro_title or title).replace("#", "").strip(),
            parts=parts, chapters=chapters, sections=sections)
    return {"pages": total, "chapters": dict(zip(chapters, pages, strict=True))}


def _progress(message):
    print(f"  {message}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=ROOT / "_build" / "singlehtml")
    parser.add_argument("--out", default=ROOT / "_build" / "pdf" / "book.pdf")
    args = parser.parse_args(argv)
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    start = time.perf_counter()
    print(f"printing {args.html} with Chromium ...", flush=True)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    report = make_pdf(args.html, args.out, title=config["title"],
                      subtitle=config.get("author", ""), parts=parts_of(toc),
                      root=toc["root"])
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=1))
    print(f"wrote {args.out} ({report['pages']} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
