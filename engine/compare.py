"""What changed between two versions of a process, element by element.

SpiffWorkflow migrates a case by matching element ids, so the comparison does too: an id only
in the newer files was added, an id only in the older ones was removed, and an id in both
changed when its type, name, attributes (Camunda's included), connections or its own settings
(a condition, a timer, a script, extension elements, a lane's members) differ. Ids of nested
parts that are not elements of their own (an event definition's id, which modellers
regenerate) are ignored.

Ids are matched across all BPMN files of a version (a version's called processes live in
files of their own), and each change names the file it is in. Only BPMN files are compared
element by element; a changed form or decision table is a changed file, listed by name.
Documents are read with ``engine.xmlsafe.parse_xml``: versions came from uploads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from engine.camunda_props import BPMN_NS, CAMUNDA_NS
from engine.xmlsafe import XmlRejected, parse_xml

# Parts of an element rather than elements of their own: they count towards their owner.
_PARTS = re.compile(
    r"definitions|laneSet|extensionElements|documentation|incoming|outgoing|flowNodeRef"
    r"|ioSpecification|inputSet|outputSet|dataInput|dataOutput|property"
    r"|dataInputAssociation|dataOutputAssociation"
    r"|.*(EventDefinition|LoopCharacteristics|Expression|Condition|Cardinality)"
    r"|condition|script|text|time(Date|Duration|Cycle)"
)
_FLOWS = ("sequenceFlow", "messageFlow", "association", "dataAssociation")


@dataclass(frozen=True)
class Element:
    """One element of a version as the comparison sees it."""

    id: str
    file: str
    type: str
    name: str
    attributes: tuple[tuple[str, str], ...]
    incoming: frozenset[str]
    outgoing: frozenset[str]
    members: frozenset[str]  # a lane's flow nodes
    settings: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.type} '{self.name}'" if self.name else f"{self.type} {self.id}"


@dataclass(frozen=True)
class Change:
    element_id: str
    file: str
    kind: str  # "added", "removed" or "changed"
    label: str
    details: tuple[str, ...] = ()


@dataclass
class Comparison:
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)  # forms and DMN, by name
    problems: list[str] = field(default_factory=list)  # files that could not be read

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.changed_files)

    def marks(self, file: str) -> dict[str, list[str]]:
        """Element ids to mark on ``file`` of the newer version: added and changed."""
        return {
            "added": [c.element_id for c in self.added if c.file == file],
            "changed": [c.element_id for c in self.changed if c.file == file],
        }


def _is_element(node: etree._Element) -> bool:
    qname = etree.QName(node)
    return (
        qname.namespace == BPMN_NS
        and bool(node.get("id"))
        and not _PARTS.fullmatch(qname.localname)
    )


def _settings(node: etree._Element) -> tuple[str, ...]:
    """The element's own parts, as order-free text: a nested element's parts are its own."""
    found = []
    stack = list(node)
    while stack:
        child = stack.pop()
        if not isinstance(child.tag, str) or _is_element(child):
            continue
        local = etree.QName(child).localname
        if local in ("incoming", "outgoing", "flowNodeRef"):
            continue
        attrs = sorted((k, v) for k, v in child.attrib.items() if k != "id")
        text = " ".join((child.text or "").split())
        found.append(f"{local} {attrs} {text}".strip())
        stack.extend(child)
    return tuple(sorted(found))


def _attributes(node: etree._Element) -> tuple[tuple[str, str], ...]:
    """Plain and Camunda attributes besides id and name (other vendors' are not ours to judge)."""
    camunda = f"{{{CAMUNDA_NS}}}"
    found = []
    for key, value in node.attrib.items():
        if key.startswith(camunda):
            found.append(("camunda:" + key[len(camunda) :], value))
        elif not key.startswith("{") and key not in ("id", "name"):
            found.append((key, value))
    return tuple(sorted(found))


def _elements(name: str, data: str) -> dict[str, Element]:
    root = parse_xml(data.encode(), name).getroot()
    nodes = [n for n in root.iter() if isinstance(n.tag, str) and _is_element(n)]
    incoming: dict[str, set[str]] = {}
    outgoing: dict[str, set[str]] = {}
    for node in nodes:
        if etree.QName(node).localname in _FLOWS:
            source, target = node.get("sourceRef"), node.get("targetRef")
            if source:
                outgoing.setdefault(source, set()).add(node.get("id"))
            if target:
                incoming.setdefault(target, set()).add(node.get("id"))
    found: dict[str, Element] = {}
    for node in nodes:
        element_id = node.get("id")
        found.setdefault(
            element_id,
            Element(
                id=element_id,
                file=name,
                type=etree.QName(node).localname,
                name=" ".join((node.get("name") or "").split()),
                attributes=_attributes(node),
                incoming=frozenset(incoming.get(element_id, ())),
                outgoing=frozenset(outgoing.get(element_id, ())),
                members=frozenset(
                    (ref.text or "").strip()
                    for ref in node.iterchildren(f"{{{BPMN_NS}}}flowNodeRef")
                ),
                settings=_settings(node),
            ),
        )
    return found


def _all_elements(files: Mapping[str, str], problems: list[str]) -> dict[str, Element]:
    found: dict[str, Element] = {}
    for name in sorted(files):
        if not name.lower().endswith(".bpmn"):
            continue
        try:
            elements = _elements(name, files[name])
        except XmlRejected as exc:
            problems.append(str(exc))
            continue
        for element_id, element in elements.items():
            found.setdefault(element_id, element)
    return found


def _flows(ids: frozenset[str]) -> str:
    return ", ".join(sorted(ids)) or "none"


def _details(old: Element, new: Element) -> tuple[str, ...]:
    details = []
    if old.type != new.type:
        details.append(f"type {old.type} → {new.type}")
    if old.name != new.name:
        details.append(f"name '{old.name}' → '{new.name}'")
    before, after = dict(old.attributes), dict(new.attributes)
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            was, now = before.get(key, "(not set)"), after.get(key, "(not set)")
            details.append(f"{key} '{was}' → '{now}'")
    if old.incoming != new.incoming:
        details.append(f"incoming {_flows(old.incoming)} → {_flows(new.incoming)}")
    if old.outgoing != new.outgoing:
        details.append(f"outgoing {_flows(old.outgoing)} → {_flows(new.outgoing)}")
    if old.members != new.members:
        joined, left = new.members - old.members, old.members - new.members
        details.append(
            "members: "
            + ", ".join([*(f"+{m}" for m in sorted(joined)), *(f"-{m}" for m in sorted(left))])
        )
    if old.settings != new.settings:
        details.append("settings changed (a condition, timer, script or extension elements)")
    return tuple(details)


def compare_files(older: Mapping[str, str], newer: Mapping[str, str]) -> Comparison:
    """Added, removed and changed elements from ``older`` to ``newer``; never raises on XML."""
    result = Comparison()
    before = _all_elements(older, result.problems)
    after = _all_elements(newer, result.problems)
    for element_id, element in after.items():
        if element_id not in before:
            result.added.append(Change(element_id, element.file, "added", element.label))
            continue
        details = _details(before[element_id], element)
        if details:
            result.changed.append(
                Change(element_id, element.file, "changed", element.label, details)
            )
    for element_id, element in before.items():
        if element_id not in after:
            result.removed.append(Change(element_id, element.file, "removed", element.label))
    result.changed_files = sorted(
        name
        for name in older.keys() | newer.keys()
        if not name.lower().endswith(".bpmn") and older.get(name) != newer.get(name)
    )
    return result
