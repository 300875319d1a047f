"""Benchmark: top-1 accuracy of ``KnowledgeBase.search`` on the held-out questions in bench/kb_questions/*.yaml.

    .venv/bin/python bench/kb_search.py [--questions DIR] [--output FILE]

Prints a table per topic (top-1, top-3, share of confident top hits, mean query time) and writes
bench/results/kb_search.json. Exits 0 whatever the figures (it measures, it does not gate); exits 1 only when the
knowledge base itself does not load.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from policies_kb import MIN_CONFIDENT_SCORE, KBValidationError, KnowledgeBase  # noqa: E402
from policies_kb._loader import parse_yaml  # noqa: E402
from policies_kb._schema import parse_iso_date  # noqa: E402

DEFAULT_DAY = datetime.date(2026, 11, 29)


def read_questions(folder: Path) -> tuple[list[dict], list[str]]:
    """Every question of every ``*.yaml`` in ``folder``, and the problems met reading them."""
    questions, problems = [], []
    for path in sorted(folder.glob("*.yaml")):
        data, errors = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        if errors or not isinstance(data, list):
            problems.append(f"{path.name}: {errors[0] if errors else 'not a YAML list'}")
            continue
        for index, item in enumerate(data):
            if not isinstance(item, dict) or not item.get("question") or "expect_rule" not in item:
                problems.append(f"{path.name}: item {index + 1} needs question and expect_rule")
                continue
            day = parse_iso_date(item.get("on")) if item.get("on") else DEFAULT_DAY
            if day is None:
                problems.append(f"{path.name}: item {index + 1}: bad date {item.get('on')!r}")
                continue
            questions.append({**item, "on": day, "file": path.name})
    return questions, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=REPO / "bench" / "kb_questions")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "kb_search.json")
    args = parser.parse_args()

    started = time.perf_counter()
    try:
        kb = KnowledgeBase.load()
    except KBValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    kb.warm_up()  # as the action server and console do at start-up
    warm_up_seconds = time.perf_counter() - started

    questions, problems = read_questions(args.questions)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)

    per_topic: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    timings, misses = [], []
    for item in questions:
        expected = item["expect_rule"]
        if expected is not None and kb.get(expected) is None:
            print(f"skipped: {item['file']}: unknown rule {expected!r}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        hits = kb.search(item["question"], on=item["on"], topic=item.get("topic"), limit=3)
        timings.append(time.perf_counter() - t0)
        # A question about an expired rule is answered by its successor in force (SearchHit.superseded names the
        # expired rule it matched): that is the expected rule's answer today, as the dialogue benchmark counts it.
        ids = [
            hit.superseded.id if hit.superseded is not None and hit.superseded.id == expected else hit.rule.id
            for hit in hits
        ]
        confident = bool(hits) and hits[0].score >= MIN_CONFIDENT_SCORE
        topic = expected.split(".")[0] if expected else "(out of scope)"
        counts = per_topic[topic]
        counts["n"] += 1
        if expected is None:
            ok = not confident
            counts["top1"] += ok
            counts["top3"] += ok
            counts["confident"] += ok
        else:
            counts["top1"] += bool(ids) and ids[0] == expected
            counts["top3"] += expected in ids
            counts["confident"] += bool(ids) and ids[0] == expected and confident
            ok = bool(ids) and ids[0] == expected and confident
        if not ok:
            misses.append(
                {
                    "question": item["question"],
                    "expected": expected,
                    "got": [[hit.rule.id, round(hit.score, 3)] for hit in hits],
                }
            )

    total = collections.Counter()
    for counts in per_topic.values():
        total.update(counts)

    def ratio(counts, key):
        return round(counts[key] / counts["n"], 4) if counts["n"] else None

    rows = {
        topic: {
            "n": c["n"],
            "top1": ratio(c, "top1"),
            "top3": ratio(c, "top3"),
            "confident_top1": ratio(c, "confident"),
        }
        for topic, c in sorted(per_topic.items())
    }
    report = {
        "questions": total["n"],
        "top1": ratio(total, "top1"),
        "top3": ratio(total, "top3"),
        "confident_top1": ratio(total, "confident"),
        "min_confident_score": MIN_CONFIDENT_SCORE,
        "per_topic": rows,
        "load_seconds": round(load_seconds, 3),
        "warm_up_seconds": round(warm_up_seconds, 3),
        "query_ms_mean": round(statistics.mean(timings) * 1000, 3) if timings else None,
        "query_ms_max": round(max(timings) * 1000, 3) if timings else None,
        "rules": len(kb.rules),
        "misses": misses,
        "skipped": problems,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"{'topic':<16}{'n':>5}{'top-1':>8}{'top-3':>8}{'confident':>11}")
    for topic, row in rows.items():
        print(f"{topic:<16}{row['n']:>5}{row['top1']:>8.2f}{row['top3']:>8.2f}{row['confident_top1']:>11.2f}")
    if total["n"]:
        print(
            f"{'ALL':<16}{total['n']:>5}{report['top1']:>8.2f}{report['top3']:>8.2f}{report['confident_top1']:>11.2f}"
        )
    else:
        print("no questions in", args.questions)
    print(
        f"load {load_seconds:.3f} s, warm-up {warm_up_seconds:.3f} s, query mean {report['query_ms_mean']} ms, max {report['query_ms_max']} ms, "
        f"threshold {MIN_CONFIDENT_SCORE}; written {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
