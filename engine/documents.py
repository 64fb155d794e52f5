"""The parsed documents of one deploy, what they may refer to, and how a problem is located.

Every rule module reports against the same trees, so the document model lives here: a
``Document`` is one safely parsed BPMN or DMN file, a ``DocumentIndex`` holds the processes and
decisions one file may call in another, and ``problem_at`` names the element a modeller should
open and the line it starts on, rather than the expression or event definition nested inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from engine.camunda_props import BPMN_NS
from engine.errors import Problem


def bpmn_tag(tag: str) -> str:
    """The qualified name lxml uses for a BPMN element."""
    return f"{{{BPMN_NS}}}{tag}"


@dataclass
class Document:
    """One safely parsed BPMN or DMN file of the bundle, looked up by element id on demand."""

    name: str
    tree: etree._ElementTree
    usable: bool = True  # False once refused: SpiffWorkflow never sees it
    _ids: dict[str, etree._Element] | None = None

    @property
    def root(self) -> etree._Element:
        return self.tree.getroot()

    def by_id(self, element_id: str | None) -> etree._Element | None:
        if self._ids is None:
            self._ids = {}
            for element in self.root.iter():
                if isinstance(element.tag, str) and element.get("id"):
                    self._ids.setdefault(element.get("id"), element)
        return self._ids.get(element_id) if element_id else None


def is_executable(process: etree._Element) -> bool:
    return (process.get("isExecutable") or "").strip() == "true" and bool(process.get("id"))


@dataclass
class DocumentIndex:
    """What one file may refer to in another: processes and decisions, by id."""

    docs: dict[str, Document]
    processes: dict[str, tuple[Document, etree._Element]]
    executable: list[str]
    decisions: dict[str, tuple[Document, etree._Element]]

    @classmethod
    def build(cls, bpmn: list[Document], dmn: list[Document]) -> DocumentIndex:
        processes, decisions = {}, {}
        for doc in bpmn:
            for process in doc.root.iter(bpmn_tag("process")):
                if process.get("id"):
                    processes.setdefault(process.get("id"), (doc, process))
        for doc in dmn:
            # SpiffWorkflow registers only a file's first decision; so do we.
            first = next((d for d in doc.root if etree.QName(d).localname == "decision"), None)
            if first is not None and first.get("id"):
                decisions.setdefault(first.get("id"), (doc, first))
        executable = [pid for pid, (_, p) in processes.items() if is_executable(p)]
        docs = {doc.name: doc for doc in [*bpmn, *dmn]}
        return cls(docs, processes, executable, decisions)

    def called_processes(self) -> set[str]:
        """Processes some other process calls: they are not entry points of the bundle."""
        called = set()
        for pid, (_, process) in self.processes.items():
            for call in process.iter(bpmn_tag("callActivity")):
                if call.get("calledElement") not in (None, pid):
                    called.add(call.get("calledElement"))
        return called


# --- locating and phrasing -----------------------------------------------------------------

# Elements that only hold an expression: a problem inside one belongs to the element around it.
_HOLDERS = re.compile(
    r".*(EventDefinition|LoopCharacteristics|Condition|Expression)|condition"
    r"|time(Date|Duration|Cycle)|loopCardinality|script"
)


def _owner(element: etree._Element) -> etree._Element:
    node = element
    while node is not None:
        name = etree.QName(node).localname
        if node.get("id") and not _HOLDERS.fullmatch(name):
            return node
        node = node.getparent()
    return element


def label(element: etree._Element | None) -> str | None:
    """How a problem names an element: ``userTask 'screen'``, or the tag alone without an id."""
    if element is None:
        return None
    owner = _owner(element)
    name = etree.QName(owner).localname
    return f"{name} '{owner.get('id')}'" if owner.get("id") else name


def problem_at(doc: Document, element: etree._Element, message: str) -> Problem:
    return Problem(doc.name, label(element), element.sourceline, message)


def snippet(text: str, limit: int = 60) -> str:
    """Quote the start of a long text on one line, so a message stays readable."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_OMG = ("{http://www.omg.org/spec/", "{https://www.omg.org/spec/")


def duplicate_ids(doc: Document) -> list[Problem]:
    """Ids of the standard (OMG) elements must be unique in a file; vendor extensions may not
    follow that rule and are none of our business.

    A rule of BPMN and DMN alike, and the schema check leaves it to us so that the message can
    name the line where the id was first used.
    """
    problems, first = [], {}
    for element in doc.root.iter():
        standard = isinstance(element.tag, str) and element.tag.startswith(_OMG)
        element_id = element.get("id") if standard else None
        if element_id and first.setdefault(element_id, element) is not element:
            line = first[element_id].sourceline
            message = f"id '{element_id}' is already used on line {line}; ids must be unique"
            problems.append(problem_at(doc, element, message))
    return problems
