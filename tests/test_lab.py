"""A chapter in JupyterLab, as a learner meets it: Debian's Chromium drives a real JupyterLab.

A JupyterLab server is started headless on a free port of 127.0.0.1 with a random token, on a
copy of a chapter (the repository's notebook is never written), with its own settings and
workspace folders so nothing from the user's own JupyterLab leaks in. Playwright opens the
notebook, runs every cell from the Run menu, and checks what the learner sees:

- every code cell ran (each prompt shows its execution count), with no error and no stray
  output such as ``<torch._C.Generator ...>``, and the figures are there;
- the precomputed slider changes the figure shown, and so does a live slider, typed into a
  new cell the way the chapter tells the reader to try it (the kernel redraws the figure);
- the MyST markup is rendered by jupyterlab-myst: exercises as exercises, every solution
  folded, math typeset, and no directive or role (``{exercise}``, ``{cite}``, ``$$``) left as
  literal text.

The server runs as root too (``--allow-root``: CI runs as root) and is stopped at the end.
Run: ``.venv/bin/pytest -m browser tests/test_lab.py`` (part of ``make test``).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "sequences"  # has precomputed sliders, and text telling the reader to try a live one
LIVE_SLIDER = "widgets.live_slider(draw_memory, (0.3, 2.5))"
RUN_TIMEOUT_S = 240

# What must not show as text in a rendered Markdown cell.
RAW_MARKUP = r"/```|\{(exercise|solution|cite|eq|doc|ref|numref)[^}]*\}|\$\$/"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the chapter; yields (url of the notebook, log path)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    home = tmp_path_factory.mktemp("lab")
    (home / "book").mkdir()
    shutil.copy(ROOT / "book" / f"{CHAPTER}.ipynb", home / "book")
    settings = home / "settings"
    # No news or update checks (no network), every cell rendered (no windowing), so the test
    # sees the whole notebook.
    for name, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    log = home / "server.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
               "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    try:
        status = f"http://127.0.0.1:{port}/api/status?token={token}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(status, timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/book/{CHAPTER}.ipynb?token={token}", log
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _prompts(page):
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-Notebook .jp-CodeCell .jp-InputPrompt')).map((e) => e.textContent.trim())""")


def _wait_until_run(page, count, timeout=RUN_TIMEOUT_S):
    """Wait until ``count`` code cells show an execution count and none is running (an empty
    cell that Shift+Enter adds at the end shows none)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompts = _prompts(page)
        done = [p for p in prompts if p.startswith("[") and p[1:-2].isdigit()]
        if len(done) >= count and not any("*" in p for p in prompts):
            return prompts
        time.sleep(1)
    raise AssertionError(f"not every cell ran within {timeout} s: prompts {_prompts(page)}")


def _visible_image(page, widget):
    """The source of the image the learner sees inside ``widget`` (an element handle)."""
    return widget.evaluate("""(w) => {
        const shown = Array.from(w.querySelectorAll('img')).filter((i) => i.offsetParent);
        return shown.length ? shown[0].src : null; }""")


def _move_slider(widget):
    handle = widget.query_selector(".noUi-handle, .slider-container .ui-slider-handle")
    assert handle is not None, "the slider has no handle to move"
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")


@pytest.fixture(scope="module")
def session(lab):
    from playwright.sync_api import sync_playwright

    url, log = lab
    nb = nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    outside = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})

        def route(r):
            if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:",
                                          "blob:", "about:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_function("() => document.body.innerText.includes('| Idle')",
                               timeout=90_000)
        start = time.monotonic()
        page.click(".lm-MenuBar-item:has-text('Run')")
        page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
        _wait_until_run(page, code_cells)
        seconds = time.monotonic() - start
        yield {"page": page, "nb": nb, "code_cells": code_cells, "outside": outside,
               "seconds": seconds, "log": log}
        browser.close()


def test_every_cell_runs_without_errors_or_stray_output(session):
    page = session["page"]
    print(f"{CHAPTER}: every cell ran in {session['seconds']:.1f} s")
    outputs = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-Notebook .jp-OutputArea-output')).map((e) => ({
            mime: e.dataset.mimeType || '', text: e.innerText.slice(0, 300)}))""")
    errors = [o["text"] for o in outputs
              if "Traceback" in o["text"] or "Error" in o["text"].split("\n")[0]]
    assert not errors, f"error outputs: {errors}"
    stray = [o["text"] for o in outputs
             if o["text"].startswith(("<torch.", "<matplotlib", "[<matplotlib", "Text(",
                                      "<Figure", "<IPython"))]
    assert not stray, f"stray outputs a learner would wonder about: {stray}"
    assert not session["outside"], f"requests outside this machine: {session['outside'][:3]}"


def test_figures_appear(session):
    count = session["page"].evaluate(
        "() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img').length")
    assert count >= 3, f"only {count} figures in the outputs"


def test_precomputed_slider_changes_the_figure(session):
    page = session["page"]
    widgets = page.query_selector_all(".jp-OutputArea-output .widget-vbox")
    sliders = [w for w in widgets if w.query_selector(".widget-image, img")]
    assert sliders, "no precomputed slider was displayed"
    widget = sliders[0]
    widget.scroll_into_view_if_needed()
    before = _visible_image(page, widget)
    assert before, "the slider shows no figure"
    _move_slider(widget)
    page.wait_for_timeout(500)
    after = _visible_image(page, widget)
    assert after and after != before, "moving the precomputed slider did not change the figure"


def test_live_slider_redraws_the_figure_in_the_kernel(session):
    page = session["page"]
    # The chapter tells the reader to try the live slider; do it in a new cell at the end.
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("b")  # a new code cell below
    editor = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".cm-content")
    editor.click()
    page.keyboard.type(LIVE_SLIDER)
    assert LIVE_SLIDER in editor.inner_text(), "typing into the new cell did not work"
    page.keyboard.press("Shift+Enter")
    _wait_until_run(page, session["code_cells"] + 1, timeout=60)
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="live_slider(draw_memory").last
    widget = cell.locator(".jp-OutputArea .widget-vbox").first
    widget.wait_for(timeout=30_000)
    handle = widget.element_handle()
    page.wait_for_function("(w) => Array.from(w.querySelectorAll('img')).some((i) => i.src)",
                           arg=handle, timeout=30_000)
    before = _visible_image(page, handle)
    _move_slider(handle)
    page.wait_for_function(
        "([w, old]) => Array.from(w.querySelectorAll('img')).some((i) => i.src && i.src !== old)",
        arg=[handle, before], timeout=30_000)


def test_myst_markup_is_rendered(session):
    page, nb = session["page"], session["nb"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    rendered = page.evaluate(f"""() => {{
        const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-MarkdownCell'));
        const raw = cells.map((c) => c.querySelector('.jp-RenderedMarkdown, .myst') || c)
            .map((e) => {{
                const copy = e.cloneNode(true);
                copy.querySelectorAll('code, pre').forEach((n) => n.remove());
                return copy.innerText; }})
            .filter((t) => {RAW_MARKUP}.test(t)).map((t) => t.slice(0, 200));
        return {{
            raw,
            exercises: document.querySelectorAll('.jp-MarkdownCell .myst-exercise').length,
            solutions: Array.from(document.querySelectorAll('.jp-MarkdownCell details'))
                .map((d) => [d.open, d.innerText.slice(0, 60)]),
            math: document.querySelectorAll(
                '.jp-MarkdownCell mjx-container, .jp-MarkdownCell .MathJax, '
                + '.jp-MarkdownCell .katex').length,
        }}; }}""")
    assert not rendered["raw"], f"MyST markup shown as text: {rendered['raw'][:3]}"
    n_exercises = markdown.count("{exercise}")
    assert rendered["exercises"] >= n_exercises, rendered
    n_solutions = markdown.count("{solution-start}") + markdown.count("{solution}")
    assert len(rendered["solutions"]) >= n_solutions, rendered["solutions"]
    assert not any(is_open for is_open, _ in rendered["solutions"]), "a solution is unfolded"
    assert rendered["math"] > 0, "no typeset math"
