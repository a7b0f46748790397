"""Find the places where the book's prose names or quotes rnnlib, and check them.

Used by ``test_book_source.py``, whose docstring states the convention. The prose is parsed
with MyST's own markdown parser (the one the book build uses), so code spans are told apart
from maths (``$...$``), roles (``{eq}`label```), comments and code blocks exactly as in the
built book, and the contents of directives such as ``{exercise}`` or ``{list-table}`` are
read as the prose they are.

Entry points: ``check_notebook`` (an ``nbformat`` notebook), ``check_page`` (the text of a
``.md`` page) and ``check_path`` (either, from a file) return findings; ``scan_notebook``,
``scan_page`` and ``scan_path`` return what was found, unchecked.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from markdown_it.renderer import RendererHTML
from markdown_it.tree import SyntaxTreeNode
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

import rnnlib

# The extensions _config.yml enables, so the parse matches the book build's.
_MD = create_md_parser(
    MdParserConfig(
        enable_extensions={"amsmath", "dollarmath", "colon_fence", "deflist", "substitution"}
    ),
    RendererHTML,
)

# Directives whose body is not prose (code, maths, file contents, generated lists).
CODE_DIRECTIVES = {
    "code",
    "code-block",
    "code-cell",
    "sourcecode",
    "literalinclude",
    "math",
    "eval-rst",
    "raw",
    "bibliography",
    "toctree",
    "tableofcontents",
    "mermaid",
    "image",
}

# rnnlib's public submodules: `rnn.forward` means rnnlib.rnn.forward unless a page says otherwise.
SUBMODULES = {info.name for info in pkgutil.iter_modules(rnnlib.__path__)
              if not info.name.startswith("_")}

# A dotted name, optionally called: `rnnlib.rnn.forward`, `lstm.forward(X, None, p)`.
_NAME = r"[A-Za-z_]\w*"
_DOTTED_SPAN = re.compile(rf"\s*({_NAME}(?:\.{_NAME})+)\s*(\(.*\))?\s*", re.S)
_IDENTIFIER = re.compile(rf"\s*({_NAME})\s*")
# `rnn.py`, `head_to_head.json`: file names, not attributes.
_FILE_SUFFIXES = {"py", "ipynb", "md", "json", "txt", "toml", "yml", "yaml", "npz", "bib",
                  "cfg", "ini", "html", "csv", "png", "svg"}
_LINE_WORD = re.compile(r"\blines?\b", re.I)
# A sentence ends at . ! ? followed by white space (or the end of the text).
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ELLIPSIS = re.compile(r"\.\.\.|…")


@dataclass(frozen=True)
class Finding:
    """One place where the book and rnnlib disagree."""

    where: str  # "book/rnn.ipynb, cell 15, line 5"
    span: str  # the code span as the prose has it
    target: str  # the rnnlib name checked, e.g. "rnnlib.rnn.backward"
    problem: str
    advice: str

    def __str__(self):
        return f"{self.where}: `{self.span}` {self.problem}\n    -> {self.advice}"


@dataclass(frozen=True)
class Name:
    """A code span that names a member of rnnlib, and its full dotted name."""

    where: str
    span: str
    target: str


@dataclass(frozen=True)
class Quote:
    """A code span presented as a line of the function ``target``; ``rule`` says why."""

    where: str
    span: str
    target: str
    rule: str  # "table" or "sentence"


@dataclass
class Scan:
    """What one chapter names and quotes (plus references that could not be resolved)."""

    names: list = field(default_factory=list)
    quotes: list = field(default_factory=list)
    findings: list = field(default_factory=list)


# -- rnnlib's names ---------------------------------------------------------------------


def resolve(dotted):
    """The object ``dotted`` names (importing submodules on the way), or raise LookupError."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
            continue
        except AttributeError:
            pass
        if inspect.ismodule(obj):
            module = ".".join(parts[: i + 1])
            try:
                obj = importlib.import_module(module)
                continue
            except ModuleNotFoundError as error:
                if error.name != module:
                    raise
        raise LookupError(f"{'.'.join(parts[:i])} has no attribute {part!r}")
    return obj


def _has_source(obj):
    return inspect.isroutine(obj) or inspect.isclass(obj)


def _resolves_to_code(dotted):
    try:
        return _has_source(resolve(dotted))
    except LookupError:
        return False


# -- what a chapter imports and shows ---------------------------------------------------


@dataclass
class Context:
    """A chapter's imports of rnnlib, the other names its code binds, its show_source calls."""

    # Local name -> dotted rnnlib name: {"rnnlib": "rnnlib", "lstm": "rnnlib.lstm", ...}.
    aliases: dict = field(default_factory=lambda: {"rnnlib": "rnnlib"})
    # Names the code binds to anything else (`import torch.optim as optim`, `data = ...`).
    bound: set = field(default_factory=set)
    # (cell number, dotted name) of every show_source(...) argument, in order.
    shown: list = field(default_factory=list)

    def full_name(self, dotted):
        """``dotted`` with its first part replaced by what the chapter imported, or None."""
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            module = self.aliases[head]
        elif head in SUBMODULES and head not in self.bound:
            module = f"rnnlib.{head}"
        else:
            return None
        return f"{module}.{rest}" if rest else module


def _python(source):
    """Parse a code cell, leaving out IPython magics and shell lines."""
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def read_code(context, number, source):
    """Add one code cell's rnnlib imports and show_source calls to ``context``."""
    tree = _python(source)
    if tree is None:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "rnnlib":
                    context.bound.add(alias.asname or alias.name.split(".")[0])
                elif alias.asname:
                    context.aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            from_rnnlib = not node.level and (node.module or "").split(".")[0] == "rnnlib"
            for alias in node.names:
                if alias.name == "*":
                    continue
                if from_rnnlib:
                    context.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                else:
                    context.bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            context.bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            context.bound.add(node.name)
        elif isinstance(node, ast.arg):
            context.bound.add(node.arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = _dotted(node.func) or ""
            if func.split(".")[-1] != "show_source":
                continue
            shown = _dotted(node.args[0])
            full = shown and context.full_name(shown)
            if full:
                context.shown.append((number, full))


# -- the prose --------------------------------------------------------------------------


def _inline_pieces(inline):
    """The inline token's children as ("text", str) and ("code", str) pieces."""
    pieces = []
    for child in inline.children or []:
        if child.type == "code_inline":
            pieces.append(("code", child.content))
        elif child.type in ("text", "softbreak", "hardbreak"):
            pieces.append(("text", child.content if child.type == "text" else " "))
        elif child.type == "myst_role" or child.type.startswith("math"):
            pieces.append(("text", " "))  # a role or maths: neither code nor words
    return pieces


def _sentences(pieces):
    """Split pieces into sentences: lists of pieces, with text cut at . ! ? and a space."""
    sentences, current = [], []
    for kind, text in pieces:
        if kind == "code":
            current.append((kind, text))
            continue
        start = 0
        for match in _SENTENCE_END.finditer(text):
            current.append(("text", text[start : match.end()]))
            sentences.append(current)
            current, start = [], match.end()
        current.append(("text", text[start:]))
    sentences.append(current)
    return sentences


class _Reader:
    """Walks one markdown text (a cell or a page) and records names and quotes."""

    def __init__(self, context, cell, where, scan):
        self.context, self.cell, self.where, self.scan = context, cell, where, scan

    def place(self, line):
        return f"{self.where}, line {line}" if self.cell is None else (
            f"{self.where}, cell {self.cell}, line {line}"
        )

    def read(self, text, first_line=1):
        tokens = _MD.parse(text)
        self.walk(SyntaxTreeNode(tokens), first_line)

    def walk(self, node, first_line):
        for child in node.children:
            line = first_line + (child.map[0] if child.map else 0)
            if child.type == "table":
                self.table(_pipe_table(child, first_line))
            elif child.type in ("fence", "colon_fence"):
                self.directive(child, line)
            elif child.type == "inline":
                self.inline(child, line)
            elif child.type in ("code_block", "html_block", "myst_line_comment", "math_block",
                                "amsmath", "front_matter"):
                continue
            else:
                self.walk(child, first_line)

    def directive(self, node, line):
        match = re.fullmatch(r"\{([^}]+)\}\s*(.*)", node.info.strip(), re.S)
        if not match or match.group(1) in CODE_DIRECTIVES:
            return  # a code block (```python) or a directive without prose
        name, title = match.groups()
        if title:
            self.read(title, line)
        body = node.content.splitlines(keepends=True)
        skip = 0
        if body and body[0].strip() == "---":  # YAML options
            ends = [i for i, text in enumerate(body[1:], start=1) if text.strip() == "---"]
            skip = ends[0] + 1 if ends else 0
        else:
            while skip < len(body) and re.match(r"\s*:[\w-]+:", body[skip]):
                skip += 1
        content = "".join(body[skip:])
        if name == "list-table":
            options = "".join(body[:skip])
            header_rows = re.search(r":header-rows:\s*(\d+)", options)
            rows = _list_table(SyntaxTreeNode(_MD.parse(content)), line + 1 + skip)
            self.table((rows, int(header_rows.group(1)) if header_rows else 0))
        else:
            self.read(content, line + 1 + skip)

    def inline(self, inline, line, quoting=None):
        """Names in every span; quotes by the sentence rule (or of ``quoting``, in a table)."""
        pieces = _inline_pieces(inline)
        for kind, text in pieces:
            if kind == "code":
                self.name(text, line)
        if quoting:
            for kind, text in pieces:
                if kind == "code":
                    self.scan.quotes.append(Quote(self.place(line), text, quoting, "table"))
            return
        for sentence in _sentences(pieces):
            words = " ".join(text for kind, text in sentence if kind == "text")
            if not _LINE_WORD.search(words):
                continue
            codes = [text for kind, text in sentence if kind == "code"]
            targets = [full for full in map(self.function, codes) if full]
            if len(targets) != 1:
                continue
            for text in codes:
                if self.function(text) is None:
                    self.scan.quotes.append(Quote(self.place(line), text, targets[0],
                                                  "sentence"))

    def name(self, text, line):
        """Record ``text`` if it names a member of rnnlib (the names rule)."""
        full = self.name_in(text)
        if full:
            self.scan.names.append(Name(self.place(line), text, full))

    def name_in(self, text):
        match = _DOTTED_SPAN.fullmatch(text)
        if not match or match.group(1).rsplit(".", 1)[-1] in _FILE_SUFFIXES:
            return None
        return self.context.full_name(match.group(1))

    def function(self, text):
        """The full name of the rnnlib function or class that ``text`` is the name of, or None."""
        full = self.name_in(text)
        if full and _DOTTED_SPAN.fullmatch(text).group(2) is None and _resolves_to_code(full):
            return full
        return None

    def header_function(self, text, line):
        """Like ``function``, but a bare name (`step_backward`) is looked up too."""
        full = self.function(text)
        if full or not _IDENTIFIER.fullmatch(text):
            return full
        bare = text.strip()
        if self.cell is not None:  # the nearest show_source of that name; before wins a tie
            shown = [(abs(number - self.cell), number > self.cell, full)
                     for number, full in self.context.shown if full.rsplit(".", 1)[-1] == bare]
            if shown:
                return min(shown)[2]
        candidates = sorted(
            {f"{module}.{bare}" for module in self.context.aliases.values()
             if _is_module(module) and _resolves_to_code(f"{module}.{bare}")}
        )
        if len(candidates) > 1:
            self.scan.findings.append(Finding(
                self.place(line), text, " or ".join(candidates),
                "heads a table of quoted lines, but it could be any of "
                f"{', '.join(candidates)}.",
                f"Write the function's module too, e.g. `{candidates[0].split('.', 1)[1]}`, "
                "or show it with rnnlib.show_source(...) next to the table.",
            ))
            return None
        return candidates[0] if candidates else None

    def table(self, table):
        """Names in every cell; a column whose header names a function quotes it."""
        rows, header_rows = table
        quoting = {}
        for row in rows[:header_rows]:
            for column, cell in enumerate(row):
                targets = {
                    full
                    for inline, cell_line in cell
                    for kind, text in _inline_pieces(inline)
                    if kind == "code" and (full := self.header_function(text, cell_line))
                }
                if len(targets) == 1:
                    quoting[column] = targets.pop()
        for index, row in enumerate(rows):
            for column, cell in enumerate(row):
                for inline, cell_line in cell:
                    quotes = quoting.get(column) if index >= header_rows else None
                    self.inline(inline, cell_line, quoting=quotes)


def _is_module(dotted):
    try:
        return inspect.ismodule(resolve(dotted))
    except LookupError:
        return False


def _inlines(node, first_line):
    """Every inline node under ``node``, with its line."""
    found = []
    for child in node.children:
        if child.type == "inline":
            found.append((child, first_line + (child.map[0] if child.map else 0)))
        else:
            found.extend(_inlines(child, first_line))
    return found


def _pipe_table(node, first_line):
    """A markdown table as (rows, number of header rows); a cell is a list of (inline, line)."""
    rows, header_rows = [], 0
    for part in node.children:  # thead, tbody
        for tr in part.children:
            line = first_line + (tr.map or node.map or [0])[0]
            rows.append([[(cell.children[0], line)] if cell.children else []
                         for cell in tr.children])
            if part.type == "thead":
                header_rows += 1
    return rows, header_rows


def _list_table(root, first_line):
    """The rows of a {list-table}: a list of rows, each a list of cells of (inline, line)."""
    rows = []
    for bullet in (n for n in root.children if n.type == "bullet_list"):
        for row in bullet.children:
            cells = []
            for inner in (n for n in row.children if n.type == "bullet_list"):
                cells.extend(_inlines(cell, first_line) for cell in inner.children)
            rows.append(cells)
    return rows


# -- checking ---------------------------------------------------------------------------


def code_of(obj):
    """The source of a function or class without its docstrings (those of nested defs too)."""
    source = textwrap.dedent(inspect.getsource(obj))
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                docstrings.update(range(first.lineno - 1, first.end_lineno))
    lines = source.splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines) if number not in docstrings)



def _normalise(code):
    """Code with runs of white space made one space, and spaces next to punctuation gone."""
    code = re.sub(r"\s+", " ", code.strip())
    return re.sub(r" (?=\W)|(?<=\W) ", "", code)


def _is_word(char):
    return char.isalnum() or char == "_"


def _find(fragment, source, start=0):
    """End of the first occurrence of ``fragment`` in ``source`` at whole tokens, or -1."""
    while (index := source.find(fragment, start)) >= 0:
        end = index + len(fragment)
        before = index == 0 or not (_is_word(fragment[0]) and _is_word(source[index - 1]))
        after = end == len(source) or not (_is_word(fragment[-1]) and _is_word(source[end]))
        if before and after:
            return end
        start = index + 1
    return -1


def quote_occurs(quote, source):
    """Whether ``quote`` is (part of) ``source``, ignoring white space.

    A quote may leave code out with ``...``: ``return dP @ W_x_T, ...`` matches if its parts
    occur in order (a literal ``...`` in the code, as in ``do[...] = ...``, matches as well).
    """
    source = _normalise(source)
    if _find(_normalise(quote), source) >= 0:
        return True
    if not _ELLIPSIS.search(quote):
        return False
    parts = [_normalise(part).strip(",") for part in _ELLIPSIS.split(quote)]
    parts = [part for part in parts if part]
    position = 0
    for part in parts:
        position = _find(part, source, position)
        if position < 0:
            return False
    return bool(parts)


def check(scan):
    """The findings of one scan: names that do not resolve, quotes not in the source."""
    findings = list(scan.findings)
    for name in scan.names:
        try:
            resolve(name.target)
        except LookupError as error:
            findings.append(Finding(
                name.where, name.span, name.target,
                f"names {name.target}, which rnnlib does not have ({error}).",
                "Change the prose to rnnlib's current name, or add the name back to rnnlib.",
            ))
    sources = {}
    for quote in scan.quotes:
        if quote.target not in sources:
            sources[quote.target] = code_of(resolve(quote.target))
        if not quote_occurs(quote.span, sources[quote.target]):
            how = ("in a table column headed by it" if quote.rule == "table"
                   else "in a sentence about its lines")
            findings.append(Finding(
                quote.where, quote.span, quote.target,
                f"is quoted as code of {quote.target} ({how}), but the current code of "
                f"{quote.target} (its source without docstrings) does not contain it.",
                f"Quote the current line (see rnnlib.show_source({quote.target})), or change "
                f"{quote.target} back if the book is right.",
            ))
    return findings


# -- chapters ---------------------------------------------------------------------------


def scan_notebook(nb, where="notebook"):
    """Names and quotes in a notebook's markdown cells (cells counted from 1, as in messages)."""
    context = Context()
    cells = list(enumerate(nb.cells, start=1))
    for number, cell in cells:
        if cell.cell_type == "code":
            read_code(context, number, cell.source)
    scan = Scan()
    for number, cell in cells:
        if cell.cell_type == "markdown":
            _Reader(context, number, where, scan).read(cell.source)
    return scan


def scan_page(text, where="page"):
    """Names and quotes in a MyST markdown page; its ```python blocks count as its code."""
    context = Context()
    for node in SyntaxTreeNode(_MD.parse(text)).walk():
        if node.type == "fence" and node.info.strip().split(" ")[0] in ("python", "{code-cell}"):
            read_code(context, None, node.content)
    scan = Scan()
    _Reader(context, None, where, scan).read(text)
    return scan


def check_notebook(nb, where="notebook"):
    return check(scan_notebook(nb, where))


def check_page(text, where="page"):
    return check(scan_page(text, where))


def scan_path(path, root=None):
    path = Path(path)
    where = str(path.relative_to(root)) if root else str(path)
    if path.suffix == ".ipynb":
        return scan_notebook(nbformat.read(path, as_version=4), where)
    return scan_page(path.read_text(encoding="utf-8"), where)


def check_path(path, root=None):
    return check(scan_path(path, root))
