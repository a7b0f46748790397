"""rnnlib.provenance: what a results file records about the code that made it."""

import json
import os
import re
import subprocess
import sys

import pytest

from rnnlib import numerics, provenance


def test_record_names_commit_hash_command_and_machine():
    origin = provenance.record("python make_results.py --full")
    assert set(origin) == {"git", "rnnlib_files", "rnnlib_hash", "rnnlib_sha256", "command",
                           "date", "machine", "versions"}
    assert origin["rnnlib_hash"] == provenance.HASH_SCHEME
    assert origin["command"] == "python make_results.py --full"
    assert re.fullmatch(r"[0-9a-f]{64}", origin["rnnlib_sha256"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", origin["date"])
    assert origin["machine"]["cores"] >= 1
    assert origin["versions"]["rnnlib"]
    json.dumps(origin)  # it goes into a JSON file as it is


def test_git_state_of_this_checkout_or_none_outside_git(tmp_path):
    state = provenance.git_state()
    if state["commit"] is not None:  # the tests also run from an unpacked copy
        assert re.fullmatch(r"[0-9a-f]{40}", state["commit"])
        assert isinstance(state["dirty"], bool)
    assert provenance.git_state(tmp_path) == {"commit": None, "dirty": None}


def test_source_hash_changes_with_a_name_or_a_byte(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = provenance.source_hash(tmp_path)
    assert provenance.source_hash(tmp_path) == first
    (tmp_path / "notes.txt").write_text("still not code")
    assert provenance.source_hash(tmp_path) == first
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    changed = provenance.source_hash(tmp_path)
    assert changed != first
    (tmp_path / "sub" / "b.py").rename(tmp_path / "b.py")
    assert provenance.source_hash(tmp_path) != changed


def test_same_code_compares_the_hash():
    assert not provenance.same_code({"provenance": {"rnnlib_sha256": "0" * 64}})
    assert not provenance.same_code({"date": "no provenance recorded"})
    # a record from before rnnlib_files: every file, byte for byte
    assert provenance.same_code({"provenance": {"rnnlib_sha256": provenance.source_hash()}})


def package(tmp_path, files):
    """A small package of ``files`` (name: text) in a folder of tmp_path."""
    root = tmp_path / "pkg"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_same_code_follows_the_used_files_only(tmp_path, monkeypatch):
    root = package(tmp_path, {"__init__.py": "", "a.py": "def f(x):\n    return 2 * x\n",
                              "unused.py": "y = 1\n"})
    monkeypatch.setattr(provenance, "PACKAGE", root)
    files = ["__init__.py", "a.py"]
    origin = {"provenance": {"rnnlib_files": files, "rnnlib_hash": provenance.HASH_SCHEME,
                             "rnnlib_sha256": provenance.code_hash(files)}}
    assert provenance.same_code(origin)
    (root / "unused.py").write_text("y = 2\n")  # not used: still the same code
    assert provenance.same_code(origin)
    (root / "a.py").write_text('"""Doubles."""\n# twice\ndef f(x):\n    return 2*x  # so\n')
    assert provenance.same_code(origin)  # a docstring, comments and spacing only
    (root / "a.py").write_text("def f(x):\n    return x + x\n")
    assert not provenance.same_code(origin)  # the code itself
    (root / "a.py").write_text("def f(x):\n    return 2 * x\n")
    assert provenance.same_code(origin)
    other = {"provenance": {**origin["provenance"], "rnnlib_hash": "another-scheme"}}
    assert not provenance.same_code(other)
    (root / "a.py").unlink()  # gone: no longer the same, and no error
    assert not provenance.same_code(origin)


def test_same_code_refuses_file_lists_it_cannot_trust(tmp_path, monkeypatch):
    root = package(tmp_path, {"__init__.py": "x = 1\n"})
    monkeypatch.setattr(provenance, "PACKAGE", root)
    (tmp_path / "outside.py").write_text("z = 0\n")
    for files in ([], "__init__.py", ["../outside.py"], [str(tmp_path / "outside.py")], [3]):
        with pytest.raises((ValueError, TypeError)):
            provenance.code_hash(files)
        record = {"rnnlib_files": files, "rnnlib_hash": provenance.HASH_SCHEME,
                  "rnnlib_sha256": "0" * 64}
        assert not provenance.same_code({"provenance": record})
    (root / "bad.py").write_bytes(b"\xff\xfe not text")
    record = {"rnnlib_files": ["bad.py"], "rnnlib_hash": provenance.HASH_SCHEME,
              "rnnlib_sha256": "0" * 64}
    assert not provenance.same_code({"provenance": record})


def test_the_code_hash_ignores_docstrings_but_not_other_strings(tmp_path):
    def hash_of(text):
        (tmp_path / "m.py").write_text(text)
        return provenance.code_hash(["m.py"], tmp_path)

    plain = hash_of("class C:\n    def f(self):\n        return 1\n")
    assert hash_of('class C:\n    """A class."""\n\n    def f(self):\n        """One."""\n'
                   "        return 1\n") == plain
    assert hash_of("def f():\n    pass\n") == hash_of('def f():\n    """Only this."""\n')
    # a string that is not the first statement is code
    assert hash_of("def f():\n    x = 1\n    'kept'\n") != hash_of("def f():\n    x = 1\n")
    with pytest.raises(FileNotFoundError):
        provenance.code_hash(["gone.py"], tmp_path)


def used_files_after(imports):
    code = (f"import json, sys\n{imports}\nfrom rnnlib import provenance\n"
            "print(json.dumps([provenance.used_files(), 'rnnlib.model' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, cwd=provenance.ROOT)
    return json.loads(done.stdout)


def test_used_files_follow_imports_also_inside_functions():
    files, loaded = used_files_after("import rnnlib.model")
    # model imports layers, layers the cells, the cells their fast paths
    assert {"__init__.py", "model.py", "layers.py", "lstm.py", "gru.py", "rnn.py",
            "fast/__init__.py", "fast/lstm.py"} <= set(files)
    assert not set(files) & set(provenance.BOOKKEEPING)
    assert "checks/__init__.py" not in files  # nothing the model runs imports the checks
    # rnnlib.masking imports rnnlib.model inside a function only: not loaded, still used
    files, loaded = used_files_after("import rnnlib.masking")
    assert not loaded
    assert {"masking.py", "model.py", "layers.py"} <= set(files)
    for name in files:  # closed: whatever a used module imports is used
        for path in provenance._imported_files(provenance.PACKAGE / name):
            relative = path.relative_to(provenance.PACKAGE).as_posix()
            assert relative in files or relative in provenance.BOOKKEEPING


def test_command_must_be_text():
    with pytest.raises(TypeError, match="command"):
        provenance.record(["python", "x.py"])


# --------------------------------------------------------------------------------------
# The pinned numeric environment
# --------------------------------------------------------------------------------------

def test_the_makefile_exports_the_pinned_numerics():
    text = (provenance.ROOT / "Makefile").read_text()
    for name, value in {**provenance.ONE_THREAD, **provenance.PINNED_NUMERICS}.items():
        assert f"export {name} ?= {value}\n" in text, name


def test_one_thread_everywhere_and_the_kernels_on_x86_64(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    assert provenance.numerics_to_pin() == provenance.ONE_THREAD
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")
    assert provenance.numerics_to_pin() == {**provenance.ONE_THREAD,
                                            **provenance.PINNED_NUMERICS}


def test_the_record_says_which_kernels_ran():
    machine = provenance.record()["machine"]
    assert set(provenance.PINNED_NUMERICS) <= set(machine["numerics"])
    assert machine["numerics"]["numpy_simd"]  # at least NumPy's baseline
    assert set(machine["threads"]) == set(provenance.ONE_THREAD)


def test_the_course_kernel_runs_under_the_pinned_numerics():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    pinned = provenance.numerics_to_pin()
    assert spec.env == {**spec.env, **pinned}, (
        f"{spec.resource_dir}/kernel.json lacks the pinned numerics: run make setup")


def test_a_script_restarts_itself_under_the_pinned_numerics(tmp_path):
    pinned = provenance.numerics_to_pin()
    script = tmp_path / "script.py"
    script.write_text("import os\nfrom rnnlib import provenance\nprovenance.pin_numerics()\n"
                      "print({k: os.environ[k] for k in provenance.numerics_to_pin()})\n")
    env = {k: v for k, v in os.environ.items() if k not in pinned}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    first, second = done.stdout.strip().split("\n")
    assert first.startswith("restarting under OMP_NUM_THREADS='1'")
    assert second == repr(pinned)
