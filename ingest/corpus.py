"""Load and validate the whole corpus: the concept, the strategy, services, offices (and translations).

Everything here fails early with a :class:`CorpusError` naming the file, the line and the reason, so that a
malformed file never reaches the index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.concept import concept_units, parse_structure
from ingest.errors import CorpusError
from ingest.strategy import strategy_units
from pipelines.units import Unit, anchor_for, is_unit_id

CONCEPT_FILE = "integrationskonzept.md"
STRATEGY_FILE = "sozialstrategie.md"
OFFICES_FILE = "offices.yaml"
SERVICES_DIR = "services"
PROCEDURES_DIR = "procedures"
SERVICE_SOURCE = "Wegweiser Jena: Angaben zu verlinkten Diensten (öffentliche Quellen, je Angabe verlinkt)"
PROCEDURE_SOURCE = "Wegweiser Jena: Angaben zu Verfahren für Neuzugezogene (öffentliche Quellen, je Angabe verlinkt)"
OFFICE_SOURCE = "Integrationskonzept der Stadt Jena (Fortschreibung 2024), Verantwortlichkeiten"
CONTACT_KINDS = ("phone", "email", "address", "website", "hours")
_URL = re.compile(r"^https?://\S+$")


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that records the line of every mapping (``__line__``) for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Load a YAML file whose mappings remember their line (``__line__``).

    :raises CorpusError: with the line and column of a syntax error.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise CorpusError(path, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise CorpusError(path, None, f"invalid YAML: {exc}") from exc


def strip_lines(value: Any) -> Any:
    """The same data without the ``__line__`` bookkeeping keys."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def _line(node: Any) -> int | None:
    return node.get("__line__") if isinstance(node, dict) else None


@dataclass(frozen=True)
class Office:
    """A body named in a ``Verantwortung`` line."""

    id: str
    name: str
    type: str
    aliases: tuple[str, ...]
    service: str | None
    description: str | None
    line: int


@dataclass
class OfficeDirectory:
    """Offices by id, and the resolver from ``Verantwortung`` text to office ids."""

    offices: dict[str, Office]
    compounds: dict[str, tuple[str, ...]]
    connectors: tuple[str, ...]
    path: Path
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _targets: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        targets: dict[str, tuple[str, ...]] = {}
        for office in self.offices.values():
            for name in (office.name, *office.aliases):
                targets[name] = (office.id,)
        targets.update(self.compounds)
        self._targets = targets
        names = sorted(targets, key=len, reverse=True)  # longest first: "Büro für Migration und Integration"
        self._pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")(?!\w)")
        self._connector = re.compile(
            r"^(?:\s|" + "|".join(re.escape(c) for c in sorted(self.connectors, key=len, reverse=True)) + r")*$"
        )

    def resolve(self, text: str, line: int = 0, source: str | Path | None = None) -> tuple[str, ...]:
        """Office ids named in a ``Verantwortung`` text, in order of mention.

        :raises CorpusError: when words remain that are neither an office name nor a connecting word.
        """
        found: list[str] = []
        rest: list[str] = []
        position = 0
        for match in self._pattern.finditer(text):
            rest.append(text[position:match.start()])
            position = match.end()
            for office_id in self._targets[match.group(1)]:
                if office_id not in found:
                    found.append(office_id)
        rest.append(text[position:])
        unknown = [part.strip() for part in rest if not self._connector.match(part)]
        if unknown or not found:
            words = "; ".join(unknown) if unknown else text
            raise CorpusError(source or "integrationskonzept.md", line,
                              f"unknown office in 'Verantwortung: {text}': {words!r} is not a name or alias "
                              f"in {self.path.name}")
        return tuple(found)

    def mentions(self, text: str) -> list[str]:
        """Office ids whose name or alias occurs in a free text (a staff question); no error on the rest."""
        found: list[str] = []
        for match in self._pattern.finditer(text):
            for office_id in self._targets[match.group(1)]:
                if office_id not in found:
                    found.append(office_id)
        return found


def load_offices(path: Path) -> OfficeDirectory:
    """Read ``offices.yaml``.

    :raises CorpusError: on a missing name, a malformed or duplicate id, or an alias used twice.
    """
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("offices"), list):
        raise CorpusError(path, 1, "expected a mapping with a list 'offices:'")
    offices: dict[str, Office] = {}
    seen_names: dict[str, str] = {}
    for entry in data["offices"]:
        line = _line(entry)
        if not isinstance(entry, dict):
            raise CorpusError(path, line, "each office must be a mapping")
        office_id, name = entry.get("id"), entry.get("name")
        if not isinstance(office_id, str) or not office_id.startswith("office/") or not is_unit_id(office_id):
            raise CorpusError(path, line, f"office id {office_id!r} must look like 'office/<slug>'")
        if not isinstance(name, str) or not name.strip():
            raise CorpusError(path, line, f"office {office_id!r} has no name")
        if office_id in offices:
            raise CorpusError(path, line, f"office id {office_id!r} appears twice")
        aliases = tuple(entry.get("aliases") or ())
        for spelling in (name, *aliases):
            if spelling in seen_names:
                raise CorpusError(path, line, f"the name {spelling!r} is used by {seen_names[spelling]} and "
                                              f"{office_id}")
            seen_names[spelling] = office_id
        offices[office_id] = Office(office_id, name.strip(), str(entry.get("type", "verwaltung")), aliases,
                                    entry.get("service"), entry.get("description"), line or 0)
    compounds: dict[str, tuple[str, ...]] = {}
    for entry in data.get("compounds") or []:
        targets = tuple(entry.get("offices") or ())
        for target in targets:
            if target not in offices:
                raise CorpusError(path, _line(entry), f"compound {entry.get('text')!r} names unknown {target!r}")
        compounds[str(entry.get("text"))] = targets
    connectors = tuple(str(c) for c in data.get("connectors") or (",",))
    return OfficeDirectory(offices, compounds, connectors, path)


@dataclass(frozen=True)
class Service:
    """A linked service (``corpus/services/<slug>.yaml``) or a procedure (``corpus/procedures/<slug>.yaml``):
    facts in our own words, each with its source, the contact a resident uses, and where sources disagree."""

    id: str
    name: str
    short_name: str
    category: str
    facts: tuple[dict[str, Any], ...]
    contact: dict[str, list[dict[str, Any]]]
    not_in_sources: tuple[str, ...]
    path: Path
    kind: str = "service"
    responsible: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    conflicts: tuple[dict[str, Any], ...] = ()

    @property
    def sources(self) -> list[str]:
        """Every source URL this entry cites, in order of first use."""
        urls: list[str] = []
        versions = (v for c in self.conflicts for v in c["versions"])
        for item in (*self.facts, *(c for items in self.contact.values() for c in items), *versions):
            if item["source"] not in urls:
                urls.append(item["source"])
        return urls

    @property
    def text(self) -> str:
        """The German text of record: the name, every fact and every conflict, in the order of the file."""
        return "\n".join([f"{self.name}."] + [f["text"].strip() for f in self.facts]
                         + [c["text"].strip() for c in self.conflicts])


def _check_sourced(item: Any, path: Path, what: str) -> dict[str, Any]:
    line = _line(item)
    if not isinstance(item, dict):
        raise CorpusError(path, line, f"{what} must be a mapping with text/value, source and as_of")
    source = item.get("source")
    if not isinstance(source, str) or not _URL.match(source):
        raise CorpusError(path, line, f"{what} has no source URL (every fact needs 'source: https://…')")
    if "as_of" not in item:
        raise CorpusError(path, line, f"{what} has no 'as_of' (a date, or null when the source gives none)")
    as_of = item["as_of"]
    if as_of is not None and not re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", str(as_of)):
        raise CorpusError(path, line, f"{what}: as_of {as_of!r} must be YYYY, YYYY-MM, YYYY-MM-DD or null")
    clean = strip_lines(item)
    clean["as_of"] = None if as_of is None else str(as_of)
    return clean


def _check_conflicts(data: dict[str, Any], path: Path) -> tuple[dict[str, Any], ...]:
    """Where public sources disagree: a text that says every version, and each version with its source."""
    conflicts = []
    for entry in data.get("conflicts") or []:
        line = _line(entry)
        if not isinstance(entry, dict) or not str(entry.get("text") or "").strip():
            raise CorpusError(path, line, "a conflict needs 'text:' that states every version")
        versions = entry.get("versions")
        if not isinstance(versions, list) or len(versions) < 2:
            raise CorpusError(path, line, "a conflict needs at least two 'versions:' (claim, source, as_of)")
        checked = [_check_sourced(v, path, "conflict version") for v in versions]
        conflicts.append({"topic": str(entry.get("topic") or ""), "text": str(entry["text"]).strip(),
                          "versions": checked})
    return tuple(conflicts)


def _id_list(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    values = data.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and is_unit_id(v) for v in values):
        raise CorpusError(path, _line(data), f"'{key}:' must be a list of unit ids, found {values!r}")
    return tuple(values)


def load_service(path: Path, prefix: str = "svc") -> Service:
    """Read one service file (``prefix="proc"``: one procedure file).

    :raises CorpusError: on a missing id/name/category, an id that does not match the file name, or a fact or
        contact item without ``source`` and ``as_of``.
    """
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise CorpusError(path, 1, "a service file must be a mapping")
    service_id = data.get("id")
    if service_id != f"{prefix}/{path.stem}":
        raise CorpusError(path, _line(data), f"id must be '{prefix}/{path.stem}' (the file name), "
                                             f"found {service_id!r}")
    for key in ("name", "category"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CorpusError(path, _line(data), f"missing '{key}:'")
    facts = data.get("facts")
    if not isinstance(facts, list) or not facts:
        raise CorpusError(path, _line(data), "a service needs at least one fact under 'facts:'")
    checked = []
    for fact in facts:
        item = _check_sourced(fact, path, "fact")
        if not isinstance(item.get("text"), str) or not item["text"].strip():
            raise CorpusError(path, _line(fact), "fact without 'text:'")
        checked.append(item)
    contact: dict[str, list[dict[str, Any]]] = {}
    raw_contact = data.get("contact") or {}
    if not isinstance(raw_contact, dict):
        raise CorpusError(path, _line(data), "'contact:' must be a mapping")
    for kind, items in raw_contact.items():
        if kind == "__line__":
            continue
        if kind not in CONTACT_KINDS:
            raise CorpusError(path, _line(raw_contact), f"unknown contact kind {kind!r} "
                                                        f"(use {', '.join(CONTACT_KINDS)})")
        contact[kind] = []
        for item in items or []:
            clean = _check_sourced(item, path, f"contact '{kind}'")
            if not str(clean.get("value", "")).strip():
                raise CorpusError(path, _line(item), f"contact '{kind}' has no value")
            contact[kind].append(clean)
    return Service(service_id, data["name"].strip(), str(data.get("short_name") or data["name"]).strip(),
                   data["category"].strip(), tuple(checked), contact,
                   tuple(str(x) for x in data.get("not_in_sources") or ()), path,
                   kind="procedure" if prefix == "proc" else "service",
                   responsible=_id_list(data, "responsible", path), links=_id_list(data, "links", path),
                   conflicts=_check_conflicts(data, path))


def load_services(directory: Path, prefix: str = "svc") -> dict[str, Service]:
    """Read every ``services/*.yaml`` (or, with ``prefix="proc"``, ``procedures/*.yaml``), in file-name order."""
    if not directory.is_dir():
        return {}
    return {s.id: s for s in (load_service(p, prefix) for p in sorted(directory.glob("*.yaml")))}


def service_unit(service: Service) -> Unit:
    """The retrievable unit of a service or a procedure."""
    procedure = service.kind == "procedure"
    return Unit(
        id=service.id, kind="procedure" if procedure else "service", title=service.name,
        section=f"{'Verfahren' if procedure else 'Dienste'} › {service.name}",
        text=service.text, source=PROCEDURE_SOURCE if procedure else SERVICE_SOURCE, as_of=_latest(service),
        url=f"/sources/{'procedures' if procedure else 'services'}#{anchor_for(service.id)}",
        context=f"{service.name} ({service.category})",
        source_file=f"{PROCEDURES_DIR if procedure else SERVICES_DIR}/{service.path.name}", line=1,
        extra={"category": service.category, "contact": service.contact, "sources": service.sources,
               "short_name": service.short_name, "not_in_sources": list(service.not_in_sources),
               "responsible": list(service.responsible), "links": list(service.links),
               "conflicts": list(service.conflicts),
               # What the sources say currently: a detail known only from an outdated fact is not "given".
               "fact_fields": list(dict.fromkeys(f["field"] for f in service.facts if not f.get("dated")))},
    )


def _latest(service: Service) -> str:
    dates = [str(f["as_of"]) for f in service.facts if f.get("as_of")]
    return max(dates) if dates else "ohne Datum"


def office_unit(office: Office, services: dict[str, Service], responsibilities: list[Unit]) -> Unit:
    """The retrievable unit of an office: its names, and where the concept makes it responsible."""
    fields = sorted({u.section.split(" › ")[0] for u in responsibilities})
    lines = [office.name + "."]
    if office.aliases:
        lines.append("Im Integrationskonzept auch: " + ", ".join(office.aliases) + ".")
    if office.description:
        lines.append(office.description)
    if fields:
        lines.append("Verantwortlich im Integrationskonzept in: " + "; ".join(fields) + ".")
    service = services.get(office.service) if office.service else None
    return Unit(
        id=office.id, kind="office", title=office.name, section=f"Zuständige Stellen › {office.name}",
        text="\n".join(lines), source=OFFICE_SOURCE, as_of="2024",
        url=f"/sources/offices#{anchor_for(office.id)}", context=office.name,
        source_file=OFFICES_FILE, line=office.line,
        extra={"type": office.type, "aliases": list(office.aliases), "service": office.service,
               "contact": service.contact if service else {},
               "measures": [u.id for u in responsibilities]},
    )


@dataclass
class Corpus:
    """The validated corpus: units in a stable order, plus the directories they were built from."""

    units: list[Unit]
    offices: OfficeDirectory
    services: dict[str, Service]
    digest: str
    formats: dict[str, str] = field(default_factory=dict)

    def unit(self, unit_id: str) -> Unit:
        """The unit with this id (KeyError when absent)."""
        return self._by_id[unit_id]

    @property
    def _by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}


def corpus_digest(corpus_dir: Path) -> str:
    """SHA-256 over every corpus file's path and bytes: unchanged digest → ingest can be skipped."""
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file() and p.suffix in (".md", ".yaml", ".yml")):
        digest.update(str(path.relative_to(corpus_dir)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read and validate every corpus file and build all units.

    :raises CorpusError: for the first problem found, with file and line.
    """
    offices = load_offices(corpus_dir / OFFICES_FILE)
    services = load_services(corpus_dir / SERVICES_DIR)
    services.update(load_services(corpus_dir / PROCEDURES_DIR, prefix="proc"))
    for office in offices.offices.values():
        if office.service and office.service not in services:
            raise CorpusError(corpus_dir / OFFICES_FILE, office.line,
                              f"{office.id} links to {office.service!r}, which has no file in services/")
    concept_path = corpus_dir / CONCEPT_FILE
    parsed = parse_structure(_read_text(concept_path), concept_path)
    units = concept_units(parsed, lambda text, line: offices.resolve(text, line, concept_path), concept_path)
    strategy_path = corpus_dir / STRATEGY_FILE
    units += strategy_units(_read_text(strategy_path), strategy_path)
    units += [service_unit(s) for s in services.values()]
    for office in offices.offices.values():
        responsible = [u for u in units if office.id in u.offices]
        units.append(office_unit(office, services, responsible))
    _link_layers(units, services, corpus_dir)
    return Corpus(units, offices, services, corpus_digest(corpus_dir), parsed.formats)


def _fold(text: str) -> str:
    return text.casefold().replace("ß", "ss").replace("-", " ")


def _named_in(text: str, service: Service) -> int | None:
    """Where a practice example text ("Praxis-Beispiele: Kommunale Antidiskriminierungsstelle, Sprintpool")
    names a service — by its short name or the words of its id — or None."""
    folded = _fold(text)
    positions = []
    for name in (service.short_name, service.id.split("/", 1)[1]):
        match = re.search(rf"(?<!\w){re.escape(_fold(name))}(?!\w)", folded)
        if match:
            positions.append(match.start())
    return min(positions) if positions else None


def _link_layers(units: list[Unit], services: dict[str, Service], corpus_dir: Path) -> None:
    """Check every ``responsible:`` and ``links:`` of services and procedures, and record the way back: a
    concept unit lists the services and procedures that put it into practice (``extra["practice"]``): first
    those its own "Praxis-Beispiele" name, in the order named (``extra["practice_named"]``), then those whose
    file links to it.

    :raises CorpusError: for a link to a unit that does not exist, or a ``responsible:`` that is not a service.
    """
    by_id = {u.id: u for u in units}
    for service in services.values():
        where = corpus_dir / (PROCEDURES_DIR if service.kind == "procedure" else SERVICES_DIR) / service.path.name
        for target in service.responsible:
            if target not in services or services[target].kind != "service":
                raise CorpusError(where, 1, f"responsible: {target!r} is not a service in services/")
        for target in service.links:
            if target not in by_id or not target.startswith(("ik/", "ks/")):
                raise CorpusError(where, 1, f"links: {target!r} is not a unit of the Integrationskonzept "
                                            f"or the Sozialstrategie")
            by_id[target].extra.setdefault("practice", []).append(service.id)
    for unit in units:
        if not unit.praxis_beispiele:
            continue
        named = sorted((pos, s.id) for s in services.values() if s.kind == "service"
                       and (pos := _named_in(unit.praxis_beispiele, s)) is not None)
        if named:
            unit.extra["practice_named"] = [service_id for _, service_id in named]
            linked = unit.extra.get("practice", [])
            unit.extra["practice"] = list(dict.fromkeys([*unit.extra["practice_named"], *linked]))


OUT_OF_SCOPE_FILE = "out_of_scope.yaml"


def load_out_of_scope(path: Path) -> dict[str, list[str]]:
    """Out-of-scope topics and their phrasings (``corpus/out_of_scope.yaml``); empty when the file is absent.

    :raises CorpusError: when a topic has no phrasing.
    """
    if not path.exists():
        return {}
    data = load_yaml(path)
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict):
        raise CorpusError(path, 1, "expected a mapping 'topics:' of topic → list of phrasings")
    result: dict[str, list[str]] = {}
    for topic, phrasings in topics.items():
        if topic == "__line__":
            continue
        if not isinstance(phrasings, list) or not phrasings or not all(isinstance(p, str) for p in phrasings):
            raise CorpusError(path, topics.get("__line__"), f"topic {topic!r} needs a list of phrasings")
        result[str(topic)] = [p.strip() for p in phrasings]
    return result


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CorpusError(path, None, "file is missing") from exc
    except UnicodeDecodeError as exc:
        raise CorpusError(path, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
