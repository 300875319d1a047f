"""Adding a topic touches the topic registry and its rules' folder only: data/generate.py writes the rest.

On a temporary copy of the training inputs (registry, knowledge base, NLU data, rules, domain): a made-up topic with
one rule is added, the generator runs, and Rasa's own importer reads the copy's domain, NLU data and rules with the
topic in them; no file but the generated ones changed. The committed generated files being up to date is
tests/dialogue/test_nlu_data.py's test_generated_files_are_up_to_date; `python -m bot train` regenerating first is
shown here too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.settings import ROOT, Settings
from bot.train import ensure_model, fingerprint

COPIED = ("config.yml", "domain", "data", "nlu", "policies_kb")
GENERATED = {
    "domain/topics.yml",
    "data/nlu/topics.yml",
    "data/rules_topics.yml",
    "data/nlu/kb_questions.yml",
    "data/nlu/lookups.yml",
}
NEW_TOPIC = """  - code: legal_aid
    intent: ask_legal_aid
    worker: 法律援助
    operator: 法律援助
    menu: [legal_aid.free_lawyer]
    leaves_case_intake: true
    examples: |
      - 法律援助咋申请
      - 打官司没钱请律师咋办
      - 在[金凤区](county)能找免费律师不
"""
RULE_QUESTIONS = ["请不起律师有人帮吗", "法律援助中心在哪", "法律援助要花钱不"]


def _copy_tree(target: Path) -> Path:
    target.mkdir(exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


def _contents(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _generate(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "data" / "generate.py"), *args], cwd=root, capture_output=True, text=True
    )


def _add_topic(root: Path) -> None:
    registry = root / "policies_kb" / "topics.yaml"
    registry.write_text(registry.read_text(encoding="utf-8") + NEW_TOPIC, encoding="utf-8")
    # one rule, made from a real one (its quote and source stay checkable) with the new topic's questions
    rule = yaml.safe_load(
        (ROOT / "policies_kb/rules/employment/employment_assistance_131.yaml").read_text(encoding="utf-8")
    )
    rule.update(topic="legal_aid", title="请不起律师找法律援助", questions=RULE_QUESTIONS, related=[])
    folder = root / "policies_kb" / "rules" / "legal_aid"
    folder.mkdir()
    (folder / "free_lawyer.yaml").write_text(yaml.safe_dump(rule, allow_unicode=True, sort_keys=False), "utf-8")


@pytest.fixture(scope="module")
def with_new_topic(tmp_path_factory) -> tuple[Path, dict[str, bytes], dict[str, bytes], str]:
    root = _copy_tree(tmp_path_factory.mktemp("checkout"))
    _add_topic(root)
    before = _contents(root)
    check = _generate(root, "--check")
    assert check.returncode == 1, check.stderr
    result = _generate(root)
    assert result.returncode == 0, result.stderr
    return root, before, _contents(root), check.stderr


def test_the_check_names_every_file_the_new_topic_makes_stale(with_new_topic):
    _, _, _, stale = with_new_topic
    named = {line.split(" is out of date")[0] for line in stale.splitlines()}
    assert named == GENERATED - {"data/nlu/lookups.yml"}


def test_only_generated_files_change_and_the_output_is_stable(with_new_topic):
    root, before, after, _ = with_new_topic
    assert set(after) == set(before)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == GENERATED - {"data/nlu/lookups.yml"}
    assert _generate(root, "--check").returncode == 0


def test_rasa_reads_the_new_topic_in_the_domain_the_nlu_data_and_the_rules(with_new_topic):
    from rasa.shared.importers.importer import TrainingDataImporter

    root, _, _, _ = with_new_topic
    importer = TrainingDataImporter.load_from_config(
        str(root / "config.yml"), str(root / "domain"), [str(root / "data")]
    )
    domain = importer.get_domain()
    assert "ask_legal_aid" in domain.intents
    assert set(domain.intents) - {"ask_legal_aid"} == set(
        TrainingDataImporter.load_from_config(str(ROOT / "config.yml"), str(ROOT / "domain"), [str(ROOT / "data")])
        .get_domain()
        .intents
    )

    examples = {m.get("text") for m in importer.get_nlu_data().intent_examples if m.get("intent") == "ask_legal_aid"}
    assert examples == {"法律援助咋申请", "打官司没钱请律师咋办", "在金凤区能找免费律师不", *RULE_QUESTIONS}

    # Which rules start with the new intent (under which form), and what they do after it.
    rules = yaml.safe_load((root / "data" / "rules_topics.yml").read_text(encoding="utf-8"))["rules"]
    answered_in = set()
    for rule in rules:
        first = rule["steps"][0]
        if {"intent": "ask_legal_aid"} in first.get("or", [first]):
            answered_in.add((rule.get("condition") or [{}])[0].get("active_loop"))
            assert rule["steps"][-1] == {"action": "action_answer_policy"}
    assert answered_in == {None, "eligibility_form", "case_intake_form", "case_status_form"}
    steps = importer.get_stories().story_steps
    assert any("ask_legal_aid" in str(event) for step in steps for event in step.events)


def test_training_regenerates_a_stale_generated_file_first(tmp_path: Path, monkeypatch):
    # A checkout whose generated NLU file lost a line, and the model of the up-to-date checkout already trained:
    # ensure_model rewrites the file, finds that model fresh and trains nothing.
    root = _copy_tree(tmp_path / "checkout")
    models = tmp_path / "models"
    models.mkdir()
    model = models / f"nx-{fingerprint(root)}.tar.gz"
    model.write_bytes(b"a model")
    nlu = root / "data" / "nlu" / "topics.yml"
    good = nlu.read_text(encoding="utf-8")
    nlu.write_text(good.replace("    - 农村户口咋迁到县城\n", ""), encoding="utf-8")
    assert _generate(root, "--check").returncode == 1

    run = subprocess.run

    def no_training(command, **kwargs):  # the generator runs for real; a training would be the failure
        assert "train" not in command, "ensure_model trained: the file was not regenerated before the fingerprint"
        return run(command, **kwargs)

    monkeypatch.setattr("bot.train.subprocess.run", no_training)
    assert ensure_model(Settings(root=root, models_dir=models)) == model
    assert nlu.read_text(encoding="utf-8") == good
