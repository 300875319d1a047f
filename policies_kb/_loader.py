"""Reading the knowledge base's YAML files into validated :class:`Rule` and :class:`FactSpec` objects.

Layout (see SCHEMA.md)::

    rules/<topic>/<slug>.yaml    one rule each; id = "<topic>.<slug>"
    facts/*.yaml                 fact declarations, merged; a fact declared in two places is an error

The YAML dialect is deliberately strict:

* a duplicate key anywhere in a file is an error (PyYAML silently keeps the last one);
* dates are *not* converted implicitly: the schema parses ``YYYY-MM-DD`` itself, so ``2024-13-45`` is a field error
  naming the file rather than a crash;
* only ``true``/``false`` are booleans (YAML 1.1 also reads ``on``/``off``/``yes``/``no`` as booleans, which turned
  the key ``on:`` of the test cases into ``True``).

Duplicate ids: the id comes from the path, so two files can only collide by extension: ``loan.yaml`` and
``loan.yml`` in one folder both claim ``<topic>.loan`` (both extensions are read, so that a ``.yml`` file is never
silently skipped). A slug with upper-case letters or ``-`` is refused outright, so ``Loan.yaml`` or ``loan-limits.yaml``
cannot shadow ``loan.yaml`` / ``loan_limits.yaml`` either.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from policies_kb._parameters import Parameters
from policies_kb._schema import FactSpec, KBError, Rule, validate_facts, validate_rule
from policies_kb._sources import ShippedText

__all__ = ["DEFAULT_RULES_DIR", "DEFAULT_FACTS_DIR", "LoadResult", "StrictLoader", "parse_yaml", "load_files"]

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_RULES_DIR = PACKAGE_DIR / "rules"
DEFAULT_FACTS_DIR = PACKAGE_DIR / "facts"
YAML_SUFFIXES = (".yaml", ".yml")

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BOOL_TAG = "tag:yaml.org,2002:bool"


# libyaml's parser when PyYAML was built with it (about 10x faster: parsing dominates the load time).
if TYPE_CHECKING:
    from yaml import SafeLoader as _BaseLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):
    """A SafeLoader without implicit timestamps and with YAML 1.2 booleans (``true``/``false`` only)."""


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_TIMESTAMP_TAG, _BOOL_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclasses.dataclass
class LoadResult:
    """Everything read from disk: valid rules (sorted by id), merged facts, and every error found."""

    rules: list[Rule]
    facts: dict[str, FactSpec]
    errors: list[KBError]
    files: int
    texts: dict[str, ShippedText] = dataclasses.field(default_factory=dict)
    warnings: list[KBError] = dataclasses.field(default_factory=list)
    parameters: Parameters = dataclasses.field(default_factory=lambda: Parameters({}, {}))

    @property
    def ok(self) -> bool:
        return not self.errors


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter error lines), else absolute."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def parse_yaml(text: str, path: str) -> tuple[Any, list[KBError]]:
    """Parse one YAML document strictly; return ``(data, [])`` or ``(None, errors)``.

    Duplicate keys are found on the composed node tree, before construction, so the error names the full field path
    (``sources[0].title``) and both line numbers.
    """
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        errors = _duplicate_keys(node, "", path)
        if errors:
            return None, errors
        return loader.construct_document(node), []
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).replace(' in "<unicode string>"', "").split())
        return None, [KBError(path, "(yaml)", message)]
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node, prefix: str, path: str) -> list[KBError]:
    errors: list[KBError] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "(complex key)"
            field = f"{prefix}.{key}" if prefix else key
            line = key_node.start_mark.line + 1
            if key in seen:
                errors.append(KBError(path, field, f"duplicate key (line {seen[key]} and line {line})"))
            else:
                seen[key] = line
            errors.extend(_duplicate_keys(value_node, field, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            errors.extend(_duplicate_keys(item, f"{prefix}[{index}]", path))
    return errors


def _read(path: Path) -> tuple[Any, list[KBError]]:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [KBError(shown, "(file)", f"cannot read: {exc}")]
    return parse_yaml(text, shown)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and not p.name.startswith("."))


def load_facts(facts_dir: Path) -> tuple[dict[str, FactSpec], list[KBError], int]:
    """Merge every ``*.yaml`` in ``facts_dir`` (or the single file ``facts_dir``); a fact declared twice is an error."""
    facts: dict[str, FactSpec] = {}
    declared_in: dict[str, str] = {}
    errors: list[KBError] = []
    if facts_dir.is_file():
        files = [facts_dir]
    elif facts_dir.is_dir():
        files = _yaml_files(facts_dir)
    else:
        return facts, errors, 0
    for path in files:
        data, parse_errors = _read(path)
        if parse_errors:
            errors.extend(parse_errors)
            continue
        shown = display_path(path)
        specs, spec_errors = validate_facts(data, shown)
        errors.extend(spec_errors)
        for name in data if isinstance(data, dict) else ():
            if name in declared_in:
                errors.append(KBError(shown, str(name), f"fact already declared in {declared_in[name]}"))
                specs.pop(name, None)
            else:
                declared_in[name] = shown
        facts.update(specs)
    return facts, errors, len(files)


def load_files(
    rules_dir: Path | None = None,
    facts_dir: Path | None = None,
    sources_dir: Path | None = None,
    parameters_dir: Path | None = None,
) -> LoadResult:
    """Read and validate every fact, text and rule file, then check across them (quotes against the shipped texts,
    successors, related ids, the weak-source hedge: :mod:`policies_kb._checks`). Never raises for content problems:
    they are in ``errors``. ``sources_dir`` / ``parameters_dir`` default to the package's ``sources/`` and
    ``parameters/``."""
    from policies_kb._checks import check_derived_facts, cross_check
    from policies_kb._parameters import load_parameters
    from policies_kb._sources import DEFAULT_SOURCES_DIR, load_texts, missing_contract_texts

    rules_dir = Path(rules_dir) if rules_dir is not None else DEFAULT_RULES_DIR
    facts_dir = Path(facts_dir) if facts_dir is not None else DEFAULT_FACTS_DIR
    facts, errors, file_count = load_facts(facts_dir)
    texts, text_errors = load_texts(sources_dir)
    errors.extend(text_errors)
    if sources_dir is None:  # the package must ship every text of the contract
        for text_id in missing_contract_texts(texts):
            errors.append(
                KBError(display_path(DEFAULT_SOURCES_DIR / f"{text_id}.md"), "(file)", "shipped text missing")
            )
    file_count += len(texts)
    parameters, parameter_errors = load_parameters(parameters_dir)
    errors.extend(parameter_errors)
    errors.extend(check_derived_facts(facts, parameters, display_path(facts_dir)))

    if not rules_dir.is_dir():
        errors.append(KBError(display_path(rules_dir), "(file)", "rules directory does not exist"))
        return LoadResult([], facts, errors, file_count)

    rules: dict[str, Rule] = {}
    claimed_by: dict[str, str] = {}
    for entry in sorted(rules_dir.iterdir()):
        if entry.name.startswith(".") or entry.name.startswith("_"):
            continue
        if entry.is_file():
            if entry.suffix in YAML_SUFFIXES:
                errors.append(
                    KBError(
                        display_path(entry), "topic", "rule files belong in a topic folder: rules/<topic>/<slug>.yaml"
                    )
                )
            continue
        for nested in sorted(entry.iterdir()):
            if nested.is_dir() and not nested.name.startswith((".", "_")):
                errors.append(KBError(display_path(nested), "(file)", "no sub-folders inside a topic folder"))
        for path in _yaml_files(entry):
            file_count += 1
            shown = display_path(path)
            data, parse_errors = _read(path)
            if parse_errors:
                errors.extend(parse_errors)
                continue
            if data is None:
                errors.append(KBError(shown, "(file)", "the file is empty"))
                continue
            rule_id = f"{entry.name}.{path.stem}"
            if rule_id in claimed_by:
                errors.append(KBError(shown, "id", f"duplicate id {rule_id!r}: also claimed by {claimed_by[rule_id]}"))
                rules.pop(rule_id, None)
                continue
            claimed_by[rule_id] = shown
            rule, rule_errors = validate_rule(data, path=shown, topic_folder=entry.name, slug=path.stem, facts=facts)
            errors.extend(rule_errors)
            if rule is not None:
                rules[rule.id] = rule
    ordered = sorted(rules.values(), key=lambda rule: rule.id)
    cross_errors, warnings = cross_check(ordered, texts)
    errors.extend(cross_errors)
    return LoadResult(ordered, facts, errors, file_count, texts, warnings, parameters)
