# The course's one entry point. Every target sets up .venv itself (once; again only
# when requirements.txt or pyproject.toml change), so a fresh clone needs only
# Python 3.11 and make.
#
#   make book      build the HTML book into _build/html (notebooks executed, 0 warnings)
#   make test      lint, unit tests, the strict book build (every notebook executed),
#                  HTML checks, the headless-Chromium browser and JupyterLab tests, the
#                  student edition, the PDF edition and a class graded with nbgrader
#   make notebooks every notebook under nbval, without building the book
#   make pdf       the whole book as one PDF, _build/pdf/book.pdf
#   make lab       open the notebooks in JupyterLab
#   make student   build the student edition (no solutions) into _build/student
#   make nbgrader  build the nbgrader course folder (one assignment per chapter) into
#                  _build/nbgrader, and generate every assignment's release
#   make bench     time rnnlib against PyTorch's CPU implementation

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# One BLAS thread per process: the notebooks' matrices are small, the tests run two
# processes at once on two cores, and OpenBLAS threads that spin while another process
# wants the core make everything many times slower. It also keeps the notebooks' training
# runs bit for bit equal to the committed ones (rnnlib.numerics.ONE_THREAD).
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# The same floating-point kernels on every x86-64 machine (NumPy's AVX2 loops, OpenBLAS's
# Haswell kernels), so that the notebooks' live training runs repeat the committed results
# to the last bit on any of them: rnnlib.numerics.PINNED_NUMERICS, whose docstring says why.
ifeq ($(shell uname -m),x86_64)
export OPENBLAS_CORETYPE ?= Haswell
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR
endif

.PHONY: setup book test lint unit notebooks book-check chromium pdf pdf-check lab student nbgrader \
	nbgrader-check bench clean

KERNEL := $(VENV)/.kernel-pinned

setup: $(STAMP) $(KERNEL)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned requirements (requirements.txt) into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@echo "... installed."
	touch $(STAMP)

# The course's Jupyter kernel, with the pinned numerics in its kernel.json.
$(KERNEL): $(STAMP) tools/pin_kernel.py rnnlib/numerics.py
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/python tools/pin_kernel.py
	touch $(KERNEL)

# jupyter-cache keys an executed notebook on its code cells only. What the notebooks import
# and read (rnnlib, the experiments' scripts and results, the benchmark results) is not in
# that key, so when any of it changes the cache is emptied, with Sphinx's record of what it
# read (_build/.doctrees), and every notebook runs again.
CACHE_INPUTS := $(shell find rnnlib experiments benchmarks/results -type f \
                  \( -name '*.py' -o -name '*.json' -o -name '*.npz' -o -name '*.txt' \) | sort)
CACHE_STAMP  := .jupyter_cache/.inputs

$(CACHE_STAMP): $(CACHE_INPUTS)
	rm -rf .jupyter_cache _build/.doctrees
	mkdir -p .jupyter_cache
	touch $@

# tools/execute.py runs the notebooks two at a time into the cache first; the build then
# only renders (and runs again, to report its error, any notebook that failed).
book: setup $(CACHE_STAMP)
	$(BIN)/python tools/execute.py
	$(BIN)/jupyter-book build . --builder html -n -W --keep-going
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# The strict build executes every notebook (failing on any cell that raises), so test
# does not run them again under nbval (make notebooks does).
test: chromium lint unit book-check pdf-check nbgrader-check

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/pytest -m "not book and not browser and not pdf and not nbgrader" -n 2

notebooks: setup
	$(BIN)/pytest --nbval-lax -p no:randomly book -n 2 --dist loadfile

book-check: book chromium
	$(BIN)/pytest -m "book or browser"

pdf-check: pdf
	$(BIN)/pytest -m pdf

chromium:
	@tools/ensure_chromium.sh

lab: setup
	$(BIN)/jupyter lab book

student: setup
	$(BIN)/python tools/make_student.py --out _build/student

# The nbgrader course: source/<chapter>/ per chapter with exercises, nbgrader_config.py,
# and (nbgrader's own command) every release. SEED keeps the graded cases private.
SEED ?= 0
nbgrader: setup
	$(BIN)/python tools/make_nbgrader.py --out _build/nbgrader --seed $(SEED)
	cd _build/nbgrader && PATH="$(CURDIR)/$(BIN):$$PATH" nbgrader generate_assignment "*" --force

# nbgrader on every assignment, a leak search of every release, and a simulated class
# autograded end to end on two chapters.
nbgrader-check: setup
	$(BIN)/pytest -m nbgrader

bench: setup
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n -5 $(BIN)/python benchmarks/bench.py --threads 1

clean:
	rm -rf _build .jupyter_cache

# The whole book as one PDF, printed by Debian's Chromium from the single-page edition
# (the notebooks come from .jupyter_cache: after make book they are not executed again).
pdf: setup $(CACHE_STAMP) chromium
	$(BIN)/python tools/execute.py
	$(BIN)/jupyter-book build . --builder singlehtml -n -W --keep-going
	$(BIN)/python tools/make_pdf.py
