"""Benchmark: intent macro-F1 of the trained model on the held-out NLU set (tests/nlu_holdout/, never trained on).

    .venv/bin/python bench/nlu.py [--output FILE]
    .venv/bin/python bench/nlu.py --nlu bench/nlu_dev --output /tmp/nlu_dev.json   # the development set: misses printed

Trains the model first if the training inputs changed (the fingerprinted `bot.train.ensure_model`), runs
`rasa test nlu` on tests/nlu_holdout/, prints intent macro-F1, accuracy and the weakest intents, and writes
bench/results/nlu.json (with a `misses` list: every held-out example given the wrong intent). Exits 0 whatever the
figures; 1 only when `rasa test nlu` itself fails. Misses are printed for another set than the held-out one only (a
held-out set whose misses are read is a development set).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.settings import Settings  # noqa: E402
from bot.train import ensure_model  # noqa: E402

HOLDOUT = REPO / "tests" / "nlu_holdout"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "nlu.json")
    parser.add_argument("--nlu", type=Path, default=HOLDOUT, help="NLU data to test (default: the held-out set)")
    args = parser.parse_args()
    data = args.nlu.resolve()

    settings = Settings.from_env()
    model = ensure_model(settings)
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        command = [
            str(Path(sys.executable).with_name("rasa")),
            "test",
            "nlu",
            "--nlu",
            str(data),
            "--model",
            str(model),
            "--out",
            out,
            "--no-plot",
        ]
        result = subprocess.run(command, cwd=REPO, env=settings.rasa_environment(), capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
            return 1
        report = json.loads((Path(out) / "intent_report.json").read_text(encoding="utf-8"))
        errors_path = Path(out) / "intent_errors.json"
        errors = json.loads(errors_path.read_text(encoding="utf-8")) if errors_path.exists() else []
        seconds = time.monotonic() - started

    intents = {
        name: values
        for name, values in report.items()
        if isinstance(values, dict) and "f1-score" in values and name not in ("macro avg", "weighted avg", "micro avg")
    }
    summary = {
        "intent_macro_f1": round(report["macro avg"]["f1-score"], 4),
        "intent_weighted_f1": round(report["weighted avg"]["f1-score"], 4),
        "accuracy": round(report.get("accuracy", report.get("micro avg", {}).get("f1-score", 0.0)), 4),
        "examples": int(report["macro avg"]["support"]),
        "intents": len(intents),
        "per_intent_f1": {name: round(values["f1-score"], 4) for name, values in sorted(intents.items())},
        "model": model.name,
        "seconds": round(seconds, 1),
        "misses": [
            {
                "text": e["text"],
                "expected": e["intent"],
                "predicted": e["intent_prediction"]["name"],
                "confidence": round(e["intent_prediction"]["confidence"], 3),
            }
            for e in errors
        ],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")

    held_out = data == HOLDOUT.resolve()
    label = "held-out NLU set" if held_out else "NLU set"
    shown = data.relative_to(REPO) if data.is_relative_to(REPO) else data
    print(f"{label}: {summary['examples']} examples, {summary['intents']} intents ({shown})")
    print(
        f"intent macro-F1 {summary['intent_macro_f1']:.3f}   weighted F1 {summary['intent_weighted_f1']:.3f}   "
        f"accuracy {summary['accuracy']:.3f}"
    )
    weakest = sorted(summary["per_intent_f1"].items(), key=lambda item: item[1])[:5]
    print("weakest intents: " + ", ".join(f"{name} {f1:.2f}" for name, f1 in weakest))
    for miss in [] if held_out else summary["misses"]:
        print(f"  miss: {miss['text']}  {miss['expected']} → {miss['predicted']} ({miss['confidence']})")
    print(f"wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
