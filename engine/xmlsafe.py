"""Parse untrusted BPMN and DMN documents without letting the document act on the server.

Diagrams arrive from the browser modeller and from uploads, so they are hostile until proven
otherwise. Whether lxml expands an external entity has changed between versions (4.9 did, 6.1
does not), so we do not rely on the parser alone: a document with any DOCTYPE is refused by a
scan of its text *before* lxml sees it, which also stops entity-expansion bombs ("billion
laughs") without expanding anything. The parser is then configured to load nothing, and the
parsed tree is checked again for a DOCTYPE as a second line of defence.

The XML schema check (stage 2 of validation) lives here too: it is the other check that
works on the document as XML, before any BPMN meaning is read from it.
"""

from __future__ import annotations

import re
import threading

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH, BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from engine.errors import KinflowError, Problem

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100

# A DTD is the only way to declare entities, so refusing both markers refuses every entity
# trick (internal, external, parameter). Scanning bytes is exact for ASCII-compatible
# encodings, which is why only those are accepted.
_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""")
_ASCII_COMPATIBLE = re.compile(
    r"utf-?8|us-ascii|ascii|iso-8859-\d{1,2}|windows-125\d|cp125\d", re.IGNORECASE
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_PREFIXES = {
    BPMN_NS: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://camunda.org/schema/1.0/bpmn": "camunda",
} | {uri: "dmn" for uri in DMN_SCHEMAS}
_ID_ERROR = re.compile(r"'([^']*)' is not a valid value of the atomic type 'xs:ID'")
_NCNAME = re.compile(r"[A-Za-z_][\w.\-]*")
_VALIDATORS: dict[str, tuple[BpmnValidator, threading.Lock]] = {}
_VALIDATORS_LOCK = threading.Lock()


class XmlRejected(KinflowError):
    """A document was refused before or while parsing; ``problem`` says where and why."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def make_parser() -> etree.XMLParser:
    """A parser that never loads a DTD, expands an entity or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )


def _reject(filename: str, message: str, line: int | None = None) -> XmlRejected:
    return XmlRejected(Problem(filename, None, line, message))


def _check_text(data: bytes, filename: str) -> None:
    """Refuse what cannot be scanned reliably, then anything that declares a DTD.

    A UTF-16 or UTF-32 document would hide ``<!DOCTYPE`` between NUL bytes, so only
    ASCII-compatible encodings (UTF-8, ISO-8859-x, Windows-125x) are let through, and NUL bytes
    never are. The modellers all write UTF-8; some older tools write ISO-8859-1.
    """
    if not data.strip():
        raise _reject(filename, "is empty")
    if len(data) > MAX_BYTES:
        raise _reject(filename, f"is too large ({len(data):,} bytes; the limit is {MAX_BYTES:,})")
    if b"\x00" in data:
        raise _reject(filename, "contains NUL bytes, so it is not a text (XML) file")
    declared = _DECLARED_ENCODING.match(data[:500])
    encoding = declared.group(1).decode("ascii", "replace").strip() if declared else "utf-8"
    if not _ASCII_COMPATIBLE.fullmatch(encoding):
        raise _reject(filename, f"declares encoding '{encoding}'; save it as UTF-8 instead", 1)
    try:
        data.decode("utf-8-sig" if re.fullmatch(r"utf-?8", encoding, re.I) else encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise _reject(
            filename, f"is not {encoding} text{where}; is it a BPMN or DMN file?"
        ) from None
    found = _DTD_MARKERS.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        raise _reject(
            filename,
            "contains a DOCTYPE or ENTITY declaration, which is refused for safety; "
            "diagrams from a modeller never need one",
            line,
        )


def _depth_exceeds(root: etree._Element, limit: int) -> bool:
    """True when elements nest deeper than ``limit``; one pass, no recursion."""
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > limit:
            return True
    return False


def _validator(xsd_path: str) -> tuple[BpmnValidator, threading.Lock]:
    """One compiled schema per XSD, built on first use (about 10 ms) and reused.

    lxml keeps the error log on the schema object, so a lock keeps two threads of the web app
    from reading each other's errors.
    """
    with _VALIDATORS_LOCK:
        if xsd_path not in _VALIDATORS:
            _VALIDATORS[xsd_path] = (BpmnValidator(xsd_path), threading.Lock())
        return _VALIDATORS[xsd_path]


def _schema_message(message: str) -> str:
    for uri, prefix in _PREFIXES.items():
        message = message.replace("{" + uri + "}", prefix + ":")
    return message.rstrip(". ")


def _located(tree: etree._ElementTree, path: str | None) -> str | None:
    """Name the element an XSD error points at by its own id or its nearest ancestor's."""
    try:
        root = tree.getroot()
        found = tree.xpath(path, namespaces={k: v for k, v in root.nsmap.items() if k})
        element = found[0] if found else None
    except Exception:  # lxml's paths are usually, not always, evaluable
        element = None
    while element is not None and not element.get("id"):
        element = element.getparent()
    if element is None:
        return None
    return f"{etree.QName(element).localname} '{element.get('id')}'"


def schema_problems(tree: etree._ElementTree, filename: str, kind: str) -> list[Problem]:
    """Stage 2: check a parsed BPMN or DMN document against its XML schema.

    SpiffWorkflow's ``BpmnValidator`` raises only the last error; we read its whole error log
    so the modeller sees every broken element at once. Duplicate ids are left to Kinflow's own
    rule, which can say where the id was first used.
    """
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    if kind == "bpmn" and root.tag != f"{{{BPMN_NS}}}definitions":
        return [Problem(filename, None, root.sourceline, "is not a BPMN 2.0 diagram")]
    is_dmn = namespace in DMN_SCHEMAS and etree.QName(root).localname == "definitions"
    if kind == "dmn" and not is_dmn:
        return [Problem(filename, None, root.sourceline, "is not a DMN 1.1, 1.2 or 1.3 file")]
    validator, lock = _validator(XSD_PATH if kind == "bpmn" else DMN_SCHEMAS[namespace])
    with lock:
        try:
            validator.validate(tree, filename)
            return []
        except ValidationException as exc:
            entries = list(validator.validator.error_log) or [exc]
    problems = []
    for entry in entries[:20]:
        message = getattr(entry, "message", None) or str(entry)
        bad_id = _ID_ERROR.search(message)
        if bad_id and _NCNAME.fullmatch(bad_id.group(1)):
            continue  # a well-formed id used twice: Kinflow's own rule names both lines
        line = getattr(entry, "line", None) or getattr(entry, "line_number", None) or None
        where = _located(tree, getattr(entry, "path", None))
        reason = f"does not follow the {kind.upper()} schema: {_schema_message(message)}"
        if bad_id:
            reason = f"id '{bad_id.group(1)}' must start with a letter or '_' and have no spaces"
        problems.append(Problem(filename, where, line, reason))
    return problems


def parse_xml(data: bytes, filename: str) -> etree._ElementTree:
    """Parse one untrusted document safely, or raise ``XmlRejected`` with a located reason."""
    if not isinstance(data, bytes | bytearray):
        raise _reject(filename, "was not given as bytes")
    data = bytes(data)
    _check_text(data, filename)
    try:
        root = etree.fromstring(data, make_parser())
    except etree.XMLSyntaxError as exc:
        # Not exc.error_log: it also carries errors left over from earlier parses.
        reason = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        raise _reject(filename, f"is not well-formed XML: {reason}", exc.lineno or None) from None
    except (ValueError, etree.LxmlError) as exc:
        raise _reject(filename, f"could not be read as XML: {exc}") from None
    if root is None:
        raise _reject(filename, "is empty")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _reject(filename, "contains a DOCTYPE, which is refused for safety")
    if _depth_exceeds(root, MAX_DEPTH):
        raise _reject(filename, f"nests elements more than {MAX_DEPTH} levels deep")
    return tree
