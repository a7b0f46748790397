"""tools/execute.py: the notebooks of a book run into its cache, several at once."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execute  # noqa: E402


def notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


@pytest.fixture
def book(tmp_path):
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(
        {"title": "t", "execute": {"execute_notebooks": "cache", "cache": ".jupyter_cache",
                                   "timeout": 60}}))
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "intro",
         "parts": [{"caption": "P", "chapters": [{"file": "book/one"}, {"file": "book/two"},
                                                 {"file": "book/broken"}]}]}))
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "book").mkdir()
    nbformat.write(notebook("x = 6 * 7", "print(x)"), tmp_path / "book" / "one.ipynb")
    nbformat.write(notebook("import os", "print(os.path.basename(os.getcwd()))"),
                   tmp_path / "book" / "two.ipynb")
    nbformat.write(notebook("raise ValueError('on purpose')"),
                   tmp_path / "book" / "broken.ipynb")
    return tmp_path


def test_toc_notebooks_are_the_ipynb_files_in_order(book):
    assert [p.name for p in execute.toc_notebooks(book)] == ["one.ipynb", "two.ipynb",
                                                               "broken.ipynb"]


def test_notebooks_run_into_the_cache_the_build_reads(book):
    from jupyter_cache import get_cache

    report = execute.execute(book, jobs=2)
    assert sorted(p.name for p in report["executed"]) == ["one.ipynb", "two.ipynb"]
    assert [p.name for p in report["failed"]] == ["broken.ipynb"]
    cache = get_cache(book / ".jupyter_cache")
    # The build looks a notebook up as read from its file: the executed copy must match.
    for name, printed in (("one", "42\n"), ("two", "book\n")):
        source = nbformat.read(book / "book" / f"{name}.ipynb", as_version=4)
        record = cache.match_cache_notebook(source)
        _, merged = cache.merge_match_into_notebook(source)
        assert merged.cells[-1].outputs[0]["text"] == printed  # run in its own folder
        assert record.data["execution_seconds"] > 0
    with pytest.raises(KeyError):  # a failure is left for the build to run and report
        cache.match_cache_notebook(nbformat.read(book / "book" / "broken.ipynb",
                                                 as_version=4))
    timings = json.loads((book / "_build" / ".notebook_seconds.json").read_text())
    assert set(timings) == {"book/one.ipynb", "book/two.ipynb"}

    again = execute.execute(book, jobs=2)  # only what is not cached runs again
    assert sorted(p.name for p in again["cached"]) == ["one.ipynb", "two.ipynb"]
    assert [p.name for p in again["failed"]] == ["broken.ipynb"]


def test_refuses_a_book_that_does_not_execute_into_a_cache(book):
    config = yaml.safe_load((book / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit, match="execute_notebooks is 'force'"):
        execute.execute(book, jobs=1)


def test_command_line_refuses_bad_arguments(book, tmp_path, capsys):
    with pytest.raises(SystemExit):
        execute.main(["--root", str(book), "--jobs", "0"])
    assert "--jobs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        execute.main(["--root", str(tmp_path / "nowhere")])
    assert "_config.yml is missing" in capsys.readouterr().err
