"""Sphinx extension: an index of every exercise in the book, made at build time.

The directive ``exercise-index`` (used on book/exercises.md) reads the chapters listed in
the table of contents, in the toc's order, finds each ``{exercise}`` in their markdown
cells (or MyST pages) as the book's conventions write it::

    ````{exercise} Implement one step of the basic RNN
    :label: rnn-ex-step-forward

    **Difficulty:** ★★☆ · **Automatic check:** `checks.rnn_step_forward`
    ...
    ````

and renders one table: chapter, exercise number (as the book numbers it), title (linked to
the exercise), difficulty with a time estimate, and automatic check. An exercise that
breaks the conventions (no label, no difficulty, a check that ``rnnlib.checks`` does not have) is
reported as a warning, which fails the strict build.

The directive ``chapter-guide`` (used on book/instructors.md) reads the same chapters and
renders, for each chapter with learning objectives or exercises: its objectives as the
chapter states them, the earlier pages it refers back to (with {doc} links), and time
estimates for reading and running it and for its exercises (see ``READING_WORDS_PER_MINUTE``,
``MINUTES_PER_CODE_CELL`` and ``EXERCISE_MINUTES``).

Both pages are rebuilt whenever a chapter changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{exercise\}[ \t]*(?P<title>.*?)\s*$")
_LABEL = re.compile(r"^:label:\s*(?P<label>\S+)\s*$")
_DIFFICULTY = re.compile(r"\*\*Difficulty:\*\*\s*(?P<stars>[★☆]{3})")
_CHECK = re.compile(r"\*\*Automatic check:\*\*\s*(?P<check>.+?)\s*$", re.M)
_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*$")

DIFFICULTY_WORDS = {1: "easy", 2: "medium", 3: "hard"}
# Planning figures for the time estimates: careful reading of derivations runs at about 50
# words a minute; each code cell takes about a minute to run and look at; an exercise takes
# about 15, 30 or 60 minutes by difficulty.
READING_WORDS_PER_MINUTE = 50
MINUTES_PER_CODE_CELL = 1
EXERCISE_MINUTES = {1: 15, 2: 30, 3: 60}

_DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<)?(?P<target>[^`>]+)>?`")
_LIST_ITEM = re.compile(r"^\s{0,3}[-*]\s+(?P<text>.*)$")


@dataclass(frozen=True)
class Exercise:
    """One exercise as its source writes it."""

    docname: str
    chapter: str
    title: str
    label: str | None
    stars: str | None
    check: str | None  # the check's name, e.g. "checks.rnn_step_forward"; None: no check
    check_text: str | None  # what follows "Automatic check:", as written
    line: int  # in the markdown cell (notebooks) or page, for messages

    @property
    def difficulty(self) -> str | None:
        if self.stars is None:
            return None
        return f"{self.stars} {DIFFICULTY_WORDS[self.stars.count('★')]}"

    @property
    def minutes(self) -> int | None:
        """A planning estimate of the time the exercise takes, from its difficulty."""
        return None if self.stars is None else EXERCISE_MINUTES[self.stars.count("★")]


@dataclass(frozen=True)
class Chapter:
    """What the instructor guide needs to know about one chapter."""

    docname: str
    title: str
    objectives: list[str]
    exercises: list[Exercise]
    builds_on: list[str]  # earlier pages it links to, in toc order
    words: int  # of markdown
    code_cells: int

    @property
    def reading_minutes(self) -> int:
        """Reading and running time, rounded to 5 minutes."""
        minutes = self.words / READING_WORDS_PER_MINUTE + self.code_cells * MINUTES_PER_CODE_CELL
        return max(5, 5 * round(minutes / 5))

    @property
    def exercise_minutes(self) -> int:
        return sum(e.minutes or 0 for e in self.exercises)


def count_code_cells(path: Path) -> int:
    """Code cells of a notebook, or ``{code-cell}`` blocks of a MyST page."""
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text(encoding="utf-8"))
        return sum(1 for cell in notebook.get("cells", []) if cell.get("cell_type") == "code")
    return len(re.findall(r"^\s*(`{3,}|:{3,})\{code-cell\}", path.read_text(), re.M))


def learning_objectives(texts: list[str]) -> list[str]:
    """The list that follows a chapter's "Learning objectives" (one string per item)."""
    for text in texts:
        start = text.find("Learning objectives")
        if start < 0:
            continue
        items: list[str] = []
        for line in text[start:].split("\n")[1:]:
            match = _LIST_ITEM.match(line)
            if match:
                items.append(match["text"].strip())
            elif items and line.strip() and line.startswith(" "):
                items[-1] += " " + line.strip()
            elif items and line.strip():
                break
        return items
    return []


def linked_docs(texts: list[str], docname: str) -> set[str]:
    """The documents a chapter links to with {doc}, as docnames."""
    folder = docname.rsplit("/", 1)[0] if "/" in docname else ""
    found = set()
    for text in texts:
        for match in _DOC_ROLE.finditer(text):
            target = match["target"].strip()
            if target.startswith("/"):
                found.add(target.lstrip("/"))
            else:
                found.add(f"{folder}/{target}" if folder else target)
    return found


def read_chapters(env) -> list[Chapter]:
    """Every document of the toc with exercises or learning objectives, in toc order."""
    chapters = []
    order = toc_docnames(env)
    for position, docname in enumerate(order):
        if docname == env.docname:
            continue
        path = Path(env.doc2path(docname))
        if path.suffix not in {".ipynb", ".md"} or not path.exists():
            continue
        env.note_dependency(str(path))
        texts = read_markdown(path)
        title = chapter_title(texts, docname)
        exercises = parse_exercises(texts, docname, title)
        objectives = learning_objectives(texts)
        if not exercises and not objectives:
            continue
        earlier = set(order[:position])
        chapters.append(Chapter(
            docname=docname, title=title, objectives=objectives, exercises=exercises,
            builds_on=[d for d in order if d in earlier and d in linked_docs(texts, docname)],
            words=sum(len(text.split()) for text in texts),
            code_cells=count_code_cells(path),
        ))
    return chapters


def format_minutes(minutes: int) -> str:
    """'45 min', '1 h', '2 h 15 min'."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def read_markdown(path: Path) -> list[str]:
    """The markdown texts of a chapter: each markdown cell of a notebook, or a whole page."""
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text(encoding="utf-8"))
        texts = []
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "markdown":
                source = cell.get("source", "")
                texts.append("".join(source) if isinstance(source, list) else source)
        return texts
    return [path.read_text(encoding="utf-8")]


def chapter_title(texts: list[str], fallback: str) -> str:
    """The chapter's first level-one heading."""
    for text in texts:
        fence = None
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                fence = None if fence else stripped[:3]
                continue
            match = _HEADING.match(line)
            if match and fence is None:
                return match["title"]
    return fallback


def parse_exercises(texts: list[str], docname: str, chapter: str) -> list[Exercise]:
    """Every ``{exercise}`` directive in the markdown texts, in order."""
    found = []
    for text in texts:
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            match = _OPEN.match(lines[i].strip())
            if not match:
                i += 1
                continue
            fence = match["fence"]
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip() and set(lines[j].strip()) == {fence[0]}
                        and len(lines[j].strip()) >= len(fence)), len(lines))
            body = "\n".join(lines[i + 1 : end])
            label = next((m["label"] for m in map(_LABEL.match, lines[i + 1 : end]) if m), None)
            stars = _DIFFICULTY.search(body)
            check_match = _CHECK.search(body)
            check_text = check_match["check"] if check_match else None
            named = re.match(r"`([^`]+)`", check_text) if check_text else None
            found.append(Exercise(
                docname=docname, chapter=chapter, title=match["title"], label=label,
                stars=stars["stars"] if stars else None,
                check=named.group(1) if named else None, check_text=check_text, line=i + 1,
            ))
            i = end + 1
    return found


def toc_docnames(env) -> list[str]:
    """The documents of the table of contents, in reading order."""
    site_map = getattr(env, "external_site_map", None)
    if site_map is None:
        site_map = getattr(env.config, "external_site_map", None)
    if site_map is None:
        return sorted(env.found_docs)
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        document = site_map.get(docname) if hasattr(site_map, "get") else None
        for tree in getattr(document, "subtrees", []):
            for child in tree.files():
                walk(child)

    walk(site_map.root.docname)
    return order


class exercise_link(nodes.inline):
    """A link to an exercise, resolved once exercise numbers are known.

    ``kind`` is ``"number"`` (the link text is the exercise's number) or ``"title"`` (the
    link text is the node's children).
    """


class ExerciseIndex(SphinxDirective):
    """Render the table of every exercise in the book."""

    has_content = False

    def run(self):
        exercises = [e for chapter in read_chapters(self.env) for e in chapter.exercises]
        self._validate(exercises)

        with_check = sum(1 for e in exercises if e.check)
        chapters = len({e.docname for e in exercises})
        summary = nodes.paragraph(text=(
            f"{len(exercises)} exercises in {chapters} chapters; {with_check} have an "
            f"automatic check, {len(exercises) - with_check} are worked with pen and paper."
        ))
        return [summary, self._table(exercises)]

    def _validate(self, exercises: list[Exercise]) -> None:
        from rnnlib import checks

        seen: dict[str, Exercise] = {}
        for exercise in exercises:
            where = f"{exercise.docname}: exercise {exercise.title!r}"
            problems = []
            if exercise.label is None:
                problems.append("has no :label:")
            elif exercise.label in seen:
                problems.append(f"reuses the label {exercise.label!r}")
            if exercise.stars is None:
                problems.append("has no '**Difficulty:** ★☆☆/★★☆/★★★' line")
            if exercise.check_text is None:
                problems.append("has no '**Automatic check:**' line")
            elif exercise.check is None and not exercise.check_text.startswith("none"):
                problems.append("names its check without backticks (or 'none (pen and paper)')")
            elif exercise.check and exercise.check.startswith("checks."):
                name = exercise.check.removeprefix("checks.")
                if not callable(getattr(checks, name, None)):
                    problems.append(f"names {exercise.check}, which rnnlib.checks does not have")
            for problem in problems:
                logger.warning(f"{where} {problem}", location=(self.env.docname, self.lineno),
                               type="exercise_index", subtype="convention")
            if exercise.label:
                seen.setdefault(exercise.label, exercise)

    def _table(self, exercises: list[Exercise]) -> nodes.table:
        headers = ["No.", "Exercise", "Difficulty · time", "Automatic check"]
        widths = [7, 47, 18, 28]
        table = nodes.table(classes=["exercise-index"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in widths:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row([nodes.Text(h) for h in headers])
        body = nodes.tbody()
        group += body
        previous = None
        for exercise in exercises:
            if exercise.docname != previous:  # a row naming the chapter, across the table
                entry = nodes.entry(morecols=len(headers) - 1)
                entry += nodes.paragraph("", "", nodes.strong(
                    "", "", self._chapter_link(exercise)))
                row = nodes.row(classes=["chapter-row"])
                row += entry
                body += row
            previous = exercise.docname
            title_nodes, _ = self.state.inline_text(exercise.title, self.lineno)
            if exercise.label:
                number = [exercise_link("", label=exercise.label, kind="number")]
                title = [exercise_link("", "", *title_nodes, label=exercise.label,
                                       kind="title")]
            else:
                number, title = [nodes.Text("")], title_nodes
            if exercise.check:  # the name in rnnlib.checks, which the page's text names
                check = [nodes.literal(text=exercise.check.removeprefix("checks."))]
            else:  # "none (pen and paper)", "none (an experiment)", as the exercise says
                check = [nodes.Text((exercise.check_text or "none").replace("*", ""))]
            difficulty = [nodes.inline("", exercise.stars or "", classes=["exercise-stars"])]
            if exercise.minutes:
                difficulty += [nodes.Text(" · "),
                               nodes.inline("", format_minutes(exercise.minutes)
                                            .replace(" ", "\u00a0"),  # "15 min" on one line
                                            classes=["exercise-time"])]
            row = self._row([number, title, difficulty, check])
            row["classes"].append("exercise-row")
            body += row
        return table

    def _chapter_link(self, exercise: Exercise):
        return doc_link(self.env, exercise.docname, exercise.chapter)

    @staticmethod
    def _row(cells) -> nodes.row:
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            for item in content if isinstance(content, list) else [content]:
                paragraph += item
            entry += paragraph
            row += entry
        return row


def doc_link(env, docname: str, text: str):
    """A link to a document, with the given text."""
    from sphinx.addnodes import pending_xref

    link = pending_xref("", refdomain="std", reftype="doc", reftarget="/" + docname,
                        refexplicit=True, refdoc=env.docname, refwarn=True)
    link += nodes.inline(text=text)
    return link


class ChapterGuide(SphinxDirective):
    """For each chapter: objectives, the earlier pages it refers to, and time estimates."""

    has_content = False

    def run(self):
        chapters = read_chapters(self.env)
        titles = {c.docname: c.title for c in chapters}
        for docname in {d for c in chapters for d in c.builds_on} - set(titles):
            path = Path(self.env.doc2path(docname))
            titles[docname] = chapter_title(read_markdown(path), docname)
        output = []
        for chapter in chapters:
            heading = nodes.paragraph()
            heading += nodes.strong("", "", doc_link(self.env, chapter.docname, chapter.title))
            output.append(heading)

            facts = nodes.bullet_list()
            with_check = sum(1 for e in chapter.exercises if e.check)
            facts += self._item([nodes.Text(
                f"Reading and running: about {format_minutes(chapter.reading_minutes)} "
                f"({chapter.words} words, {chapter.code_cells} code cells).")])
            if chapter.exercises:
                facts += self._item([nodes.Text(
                    f"Exercises: {len(chapter.exercises)} ({with_check} with an automatic "
                    f"check), about {format_minutes(chapter.exercise_minutes)} in all.")])
            if chapter.builds_on:
                item = [nodes.Text("Refers back to: ")]
                for i, docname in enumerate(chapter.builds_on):
                    if i:
                        item.append(nodes.Text(", "))
                    item.append(doc_link(self.env, docname, titles.get(docname, docname)))
                item.append(nodes.Text("."))
                facts += self._item(item)
            if chapter.objectives:
                objectives = nodes.bullet_list()
                for text in chapter.objectives:
                    inline, _ = self.state.inline_text(text, self.lineno)
                    objectives += self._item(inline)
                facts += self._item([nodes.Text("Learning objectives: after it, a learner "
                                                "can")], objectives)
            output.append(facts)
        return output

    @staticmethod
    def _item(inline, *blocks) -> nodes.list_item:
        item = nodes.list_item()
        paragraph = nodes.paragraph()
        for node in inline:
            paragraph += node
        item += paragraph
        for block in blocks:
            item += block
        return item


def resolve_exercise_links(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """Turn each exercise_link into a link to the exercise, with its number as the book
    shows it (e.g. ``3.2``)."""
    env = app.env
    std = env.get_domain("std")
    for node in list(doctree.findall(exercise_link)):
        label = node["label"]
        target = std.anonlabels.get(label)
        if target is None:
            logger.warning(f"exercise index: no exercise has the label {label!r}",
                           location=node, type="exercise_index", subtype="label")
            node.replace_self(node.children or [nodes.Text(label)])
            continue
        docname, labelid = target
        if node["kind"] == "number":
            number = env.toc_fignumbers.get(docname, {}).get("exercise", {}).get(labelid)
            content = [nodes.Text(".".join(map(str, number)) if number else "–")]
        else:
            content = list(node.children)
        reference = nodes.reference("", "", *content, internal=True,
                                    refuri=app.builder.get_relative_uri(fromdocname, docname)
                                    + "#" + labelid)
        node.replace_self(reference)


def setup(app: Sphinx) -> dict:
    app.add_node(exercise_link)
    app.add_directive("exercise-index", ExerciseIndex)
    app.add_directive("chapter-guide", ChapterGuide)
    app.connect("doctree-resolved", resolve_exercise_links)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
