"""Command line for operators and CI: ``python -m policies_kb {check,audit,search,show,export,evaluate,...}``.

Exit codes: 0 success; 1 invalid knowledge base (``check``) or nothing found (``show``, ``evaluate`` of an unknown
rule); 2 bad usage. The only place in the package that looks at today's date is the default of ``--on``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from policies_kb._knowledge_base import KnowledgeBase
from policies_kb._loader import DEFAULT_FACTS_DIR, DEFAULT_RULES_DIR, load_files
from policies_kb._schema import TOPICS, KBValidationError
from policies_kb._search import MIN_CONFIDENT_SCORE


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date YYYY-MM-DD: {text!r}") from None


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _load(args) -> KnowledgeBase | None:
    try:
        return KnowledgeBase.load(args.rules_dir, args.facts_dir, sources_dir=args.sources_dir)
    except KBValidationError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"FAILED: {len(exc.errors)} error(s); run `python -m policies_kb check`", file=sys.stderr)
        return None


def cmd_check(args) -> int:
    result = load_files(args.rules_dir, args.facts_dir, args.sources_dir)
    for warning in result.warnings:
        print(f"WARNING {warning}")
    for error in result.errors:
        print(error)
    if result.errors:
        files = len({error.path for error in result.errors})
        print(f"FAILED: {len(result.errors)} error(s) in {files} file(s)")
        return 1
    topics = len({rule.topic for rule in result.rules})
    quotes = sum(1 for rule in result.rules if rule.sources[0].text is not None)
    print(
        f"OK: {len(result.rules)} rules, {topics} topics, {len(result.facts)} facts, {len(result.texts)} texts; "
        f"{quotes} quotes verified against their text"
        + (f"; {len(result.warnings)} warning(s)" if result.warnings else "")
    )
    return 0


def cmd_audit(args) -> int:
    from policies_kb._audit import audit, format_audit

    result = load_files(args.rules_dir, args.facts_dir, args.sources_dir)
    data = audit(result, args.on)
    if args.json:
        _print_json(data)
    else:
        print(format_audit(data))
    return 1 if result.errors else 0


def cmd_search(args) -> int:
    kb = _load(args)
    if kb is None:
        return 1
    hits = kb.search(args.question, on=args.on, topic=args.topic, limit=args.limit)
    if args.json:
        _print_json(
            {
                "question": args.question,
                "on": args.on.isoformat(),
                "min_confident_score": MIN_CONFIDENT_SCORE,
                "hits": [hit.to_dict() for hit in hits],
            }
        )
        return 0
    if not hits:
        print("（没有找到相关规定）")
        return 0
    for rank, hit in enumerate(hits, 1):
        mark = "" if hit.score >= MIN_CONFIDENT_SCORE else "  (below MIN_CONFIDENT_SCORE)"
        print(f"{rank}. {hit.score:.3f}  {hit.rule.id}  {hit.rule.title}{mark}")
        print(f"   {hit.rule.citation()}")
        print(f"   matched: {' '.join(hit.matched_terms)}")
    return 0


def cmd_show(args) -> int:
    kb = _load(args)
    if kb is None:
        return 1
    rule = kb.get(args.rule_id)
    if rule is None:
        print(f"no rule {args.rule_id!r}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(rule.to_dict())
        return 0
    until = rule.effective_until.isoformat() if rule.effective_until else "…"
    print(f"{rule.id}  {rule.title}")
    print(
        f"in force {rule.effective_from.isoformat()} – {until}; scope {rule.scope}"
        f"{'; decided locally (0951-12333)' if rule.decided_locally else ''}; verified {rule.last_verified}"
    )
    print(f"\n{rule.answer}\n\n「{rule.quote}」")
    print(f"verified by: {rule.verified_by}")
    for source in rule.sources:
        text = f" text:{source.text}" if source.text else ""
        print(f"  - [{source.quality}{text}] {source.citation()}" + (f"  {source.url}" if source.url else ""))
    if rule.superseded_by:
        print(f"superseded by {rule.superseded_by}: {rule.change_note}")
    if rule.conditions:
        print(f"conditions: {len(rule.conditions['outcomes'])} outcome(s)")
    return 0


def cmd_export(args) -> int:
    kb = _load(args)
    if kb is None:
        return 1
    _print_json([rule.to_dict() for rule in kb.rules])
    return 0


def cmd_evaluate(args) -> int:
    kb = _load(args)
    if kb is None:
        return 1
    facts = {}
    for item in args.facts:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"expected fact=value, got {item!r}", file=sys.stderr)
            return 2
        if name not in kb.facts:
            print(f"undeclared fact {name!r} (declared: {', '.join(sorted(kb.facts))})", file=sys.stderr)
            return 2
        parsed = kb.parse_fact(name, value)
        if parsed is None:
            print(f"cannot read {value!r} as {kb.facts[name].type} for {name}", file=sys.stderr)
            return 2
        facts[name] = parsed
    if kb.get(args.rule_id) is None:
        print(f"no rule {args.rule_id!r}", file=sys.stderr)
        return 1
    try:
        result = kb.evaluate(args.rule_id, facts, on=args.on)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.json:
        _print_json(result.to_dict())
        return 0
    if result.missing_facts:
        print("missing facts (ask in this order):")
        for name in result.missing_facts:
            print(f"  {name}: {kb.facts[name].question}")
        return 0
    amount = result.amount
    print(f"outcome: {result.outcome}")
    if amount:
        print(f"amount: {amount['value']} {amount['unit']}" + (f" ({amount['label']})" if amount.get("label") else ""))
    print(f"reason: {result.reason}")
    print(f"computed for: {result.on.isoformat() if result.on else args.on.isoformat()}")
    print(f"facts used: {json.dumps(result.facts_used, ensure_ascii=False)}")
    rule = kb.get(args.rule_id)
    assert rule is not None  # checked above
    print(f"source: {rule.citation()}")
    return 0


def cmd_build_search_dict(args) -> int:
    from policies_kb._search import SEARCH_DICT_PATH, build_search_dict, load_synonyms

    result = load_files(args.rules_dir, args.facts_dir)
    texts = [text for rule in result.rules for text in (rule.title, rule.answer, rule.quote, *rule.questions)]
    synonyms = load_synonyms()
    extra = set(synonyms.phrases) | {word for targets in synonyms.phrases.values() for word in targets}
    userdict = Path(__file__).resolve().parent.parent / "nlu" / "userdict.txt"
    if userdict.exists():
        extra |= {line.split()[0] for line in userdict.read_text(encoding="utf-8").splitlines() if line.strip()}
    count = build_search_dict(texts, extra, SEARCH_DICT_PATH)
    print(f"wrote {count} words to {SEARCH_DICT_PATH} from {len(result.rules)} rules")
    return 0


def cmd_build_pinyin(args) -> int:
    from policies_kb._search import PINYIN_PATH, build_pinyin_table

    count = build_pinyin_table(PINYIN_PATH)
    print(f"wrote the readings of {count} characters to {PINYIN_PATH}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m policies_kb", description="宁夏农民工政策助手 knowledge base")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rules-dir", type=Path, default=DEFAULT_RULES_DIR, help="default: policies_kb/rules")
    common.add_argument("--facts-dir", type=Path, default=DEFAULT_FACTS_DIR, help="default: policies_kb/facts")
    common.add_argument("--sources-dir", type=Path, default=None, help="default: policies_kb/sources (all 16 texts)")
    dated = argparse.ArgumentParser(add_help=False)
    dated.add_argument("--on", type=_date, default=datetime.date.today(), help="YYYY-MM-DD (default: today)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("check", parents=[common], help="validate all files").set_defaults(func=cmd_check)

    audit = sub.add_parser("audit", parents=[common, dated], help="provenance table: qualities, quotes, verification")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=cmd_audit)

    search = sub.add_parser("search", parents=[common, dated], help="ranked rules for a question")
    search.add_argument("question")
    search.add_argument("--topic", choices=TOPICS)
    search.add_argument("--limit", type=int, default=5)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)

    show = sub.add_parser("show", parents=[common], help="one rule")
    show.add_argument("rule_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", parents=[common], help="every rule as JSON")
    export.add_argument("--json", action="store_true", required=True, help="(the only format)")
    export.set_defaults(func=cmd_export)

    evaluate = sub.add_parser("evaluate", parents=[common, dated], help="decide a rule for some facts")
    evaluate.add_argument("rule_id")
    evaluate.add_argument("facts", nargs="*", metavar="fact=value", help="e.g. contribution_years=12 or =十二年")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)

    build = sub.add_parser("build-search-dict", parents=[common], help="regenerate policies_kb/search_dict.txt")
    build.set_defaults(func=cmd_build_search_dict)
    sub.add_parser("build-pinyin", help="regenerate policies_kb/pinyin.txt (needs pypinyin)").set_defaults(
        func=cmd_build_pinyin
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
