"""Answering a policy question from the knowledge base, or asking a short clarifying question.

`decide()` is the whole judgement, a pure function of the question, the NLU result and the conversation's topic:

- A rule chosen by a button is answered as is.
- A follow-up that names no topic ("那要带啥材料") is searched within the conversation's topic first.
- Otherwise the whole knowledge base is searched. A hit is answered when its score reaches MIN_CONFIDENT_SCORE and
  the topic of NLU's best intent agrees (however sure NLU is: two independent signals naming the same topic); with no
  topic from NLU at all, only a strong hit (STRONG_SCORE) is answered. When NLU and the knowledge base disagree, a very confident intent with a
  confident rule in its own topic wins, a strong hit with nothing confident in the intent's topic wins, and anything
  else is asked back with both candidates.
- A weak match alone is never answered: the worker gets two or three buttons (the likeliest rules, or topics), and
  a second miss in a row offers 12333 instead (actions/handoff.py). The one exception is corroboration: a hit a
  little below the bar (CORROBORATED_SCORE) that clearly leads its topic (CLEAR_MARGIN) in the topic a very
  confident intent (VERY_CONFIDENT_INTENT) names, i.e. two independent signals that agree.

Every figure the worker reads comes from the rule's own answer text.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions._catalogue import CASE_RULES, TOPIC_MENU, WAGE_ARREARS_RULE
from actions._dialogue import INTENT_TOPICS, TOPIC_INTENTS, entity, intent_ranking, latest_intent, latest_text
from actions._messages import (
    HOTLINE,
    TOPIC_LABELS,
    answer_payload,
    fallback_payload,
    handoff_payload,
    intent_button,
    short_title,
    source_line,
)
from actions.handoff import REPEATED_MISS_TEXT, hand_off
from actions.services import MIN_CONFIDENT_SCORE, Hit, PolicyService
from policies_kb import Rule

STRONG_SCORE = 0.5  # a hit this good is answered even when NLU names no topic
CONFIDENT_INTENT = 0.8  # an NLU topic intent this sure counts as the question's topic
VERY_CONFIDENT_INTENT = 0.9  # ... and this sure, it wins a disagreement with the knowledge base
CORROBORATED_SCORE = 0.25  # a weak hit this good, in the topic a very confident intent names, is answered
CLEAR_MARGIN = 0.05  # ... when it leads the topic's second hit by this much
MAX_CHOICES = 3
MIN_CANDIDATE_SCORE = 0.1  # below this a rule is no likely candidate for a clarifying button


@dataclass
class Decision:
    """Answer `rule`, or ask back with `rules` (preferred) or `topics` as buttons."""

    rule: Rule | None = None
    rules: list[Rule] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    why: str = ""

    @property
    def answers(self) -> bool:
        return self.rule is not None


def decide(
    service: PolicyService,
    text: str,
    *,
    on: datetime.date,
    intent: str | None,
    confidence: float,
    context_topic: str | None = None,
    rule_id: str | None = None,
    chosen_topic: str | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> Decision:
    """What to do with one question (see the module docstring)."""
    if rule_id:
        rule = service.rule(rule_id, on=on)
        if rule is not None:
            return Decision(rule=rule, why="chosen")
    if chosen_topic:
        hits = service.search(text, on=on, topic=chosen_topic) if text else []
        if hits and hits[0].score >= MIN_CONFIDENT_SCORE:
            return Decision(rule=hits[0].rule, why="chosen topic")
        return Decision(rules=_candidates(hits) or _menu(service, chosen_topic, on), why="chosen topic, unclear")

    # The topic NLU names (its best guess when it fell back), and the same only when NLU is confident of it.
    nlu_topic = _best_guess_topic(ranking or []) if intent == "nlu_fallback" else INTENT_TOPICS.get(intent or "")
    intent_topic = INTENT_TOPICS.get(intent or "") if confidence >= CONFIDENT_INTENT else None
    follow_up = intent == "ask_followup" or intent_topic is None
    if context_topic and follow_up:
        in_context = service.search(text, on=on, topic=context_topic)
        if in_context and in_context[0].score >= MIN_CONFIDENT_SCORE:
            return Decision(rule=in_context[0].rule, why="follow-up in context")
        if intent == "ask_followup":
            return Decision(
                rules=_candidates(in_context) or _menu(service, context_topic, on), why="follow-up, unclear in context"
            )

    hits = service.search(text, on=on)
    top = hits[0] if hits else None
    if top is not None and top.score >= MIN_CONFIDENT_SCORE:
        if nlu_topic == top.rule.topic:
            return Decision(rule=top.rule, why="agreed")
        if intent_topic is None:
            if top.score >= STRONG_SCORE and intent != "ask_followup":
                return Decision(rule=top.rule, why="strong hit")
            return Decision(rules=_candidates(hits), why="no topic intent, hit not strong")
        in_topic = service.search(text, on=on, topic=intent_topic)
        topic_top = in_topic[0] if in_topic else None
        topic_confident = topic_top is not None and (
            topic_top.score >= MIN_CONFIDENT_SCORE or _corroborated(in_topic, confidence)
        )
        if topic_confident and confidence >= VERY_CONFIDENT_INTENT and top.score < STRONG_SCORE:
            return Decision(rule=topic_top.rule, why="intent wins disagreement")
        if top.score >= STRONG_SCORE and not topic_confident:
            return Decision(rule=top.rule, why="knowledge base wins disagreement")
        return Decision(rules=_candidates([top, *in_topic[:1], *hits[1:]]), why="disagreement")

    if intent_topic is not None:
        in_topic = service.search(text, on=on, topic=intent_topic)
        if _corroborated(in_topic, confidence):
            return Decision(rule=in_topic[0].rule, why="corroborated by a very confident intent")
        return Decision(rules=_candidates(in_topic) or _menu(service, intent_topic, on), why="weak, topic known")
    rules = _candidates(hits)
    if rules:
        return Decision(rules=rules, why="weak")
    return Decision(topics=_likely_topics(ranking or [], context_topic), why="nothing found")


def _corroborated(in_topic: list[Hit], confidence: float) -> bool:
    """A hit below MIN_CONFIDENT_SCORE that is still answered: the NLU intent names its topic very confidently, the
    hit is the clear first of that topic (CLEAR_MARGIN ahead of the second) and not far below the bar."""
    if CORROBORATED_SCORE is None or confidence < VERY_CONFIDENT_INTENT or not in_topic:
        return False
    margin = in_topic[0].score - (in_topic[1].score if len(in_topic) > 1 else 0.0)
    return in_topic[0].score >= CORROBORATED_SCORE and margin >= CLEAR_MARGIN


def _best_guess_topic(ranking: list[tuple[str, float]]) -> str | None:
    """The topic of the NLU's best-ranked real intent when it fell back (below the fallback threshold)."""
    best = next((name for name, _ in ranking if name != "nlu_fallback"), None)
    return INTENT_TOPICS.get(best or "")


def _candidates(hits: list[Hit]) -> list[Rule]:
    """Up to three distinct rules worth a button."""
    rules: list[Rule] = []
    for hit in hits:
        if hit.score >= MIN_CANDIDATE_SCORE and hit.rule not in rules:
            rules.append(hit.rule)
        if len(rules) == MAX_CHOICES:
            break
    return rules


def _menu(service: PolicyService, topic: str, on: datetime.date) -> list[Rule]:
    rules = [service.rule(rule_id, on=on) for rule_id in TOPIC_MENU.get(topic, ())]
    return [rule for rule in rules if rule is not None]


def _likely_topics(ranking: list[tuple[str, float]], context_topic: str | None) -> list[str]:
    topics = [context_topic] if context_topic else []
    for intent, _ in ranking:
        topic = INTENT_TOPICS.get(intent)
        if topic and topic not in topics and intent in TOPIC_INTENTS.values():
            topics.append(topic)
    for topic in TOPIC_LABELS:  # no ranking (a button, a test): the menu's order
        if len(topics) >= MAX_CHOICES:
            break
        if topic not in topics:
            topics.append(topic)
    return topics[:MAX_CHOICES]


# ----------------------------------------------------------------------------------------------------------------
# Rendering


def send_answer(
    dispatcher: CollectingDispatcher, service: PolicyService, rule: Rule, on: datetime.date, *, offer_case: bool = True
) -> None:
    """The rule's answer, its source line, what the worker can do next (buttons), and the payloads."""
    dispatcher.utter_message(text=rule.answer)
    dispatcher.utter_message(text=source_line(rule, on))
    lines: list[str] = []
    buttons: list[dict[str, str]] = []
    if service.checkable(rule):
        lines.append("想知道您自己符不符合？点“帮我看看”，我问您几个简单问题。")
        buttons.append(intent_button("帮我看看", "check_eligibility", eligibility_rule=rule.id))
    case_type = CASE_RULES.get(rule.id) if offer_case else None
    if case_type:
        lines.append("需要的话，我可以帮您把情况登记下来，转给人社部门处理。")
        buttons.append(intent_button("帮我登记", "start_case", case_type=case_type))
    if rule.decided_locally:
        lines.append(f"具体怎么办由当地定，以当地答复为准，可以打 {HOTLINE} 问清楚。")
        buttons.append(intent_button("转人工", "request_human"))
    if lines:
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
    dispatcher.utter_message(json_message=answer_payload(rule, on))
    if case_type:
        dispatcher.utter_message(json_message=handoff_payload("case_intake"))
    if rule.decided_locally:
        dispatcher.utter_message(json_message=handoff_payload("12333"))


def send_clarification(dispatcher: CollectingDispatcher, decision: Decision) -> None:
    """A short question with two or three buttons, and the fallback payload."""
    if decision.rules:
        buttons = [
            intent_button(short_title(rule), TOPIC_INTENTS[rule.topic], rule_id=rule.id) for rule in decision.rules
        ]
        text = "我怕理解错了。您问的是下面哪一个？点一下或回复序号："
    else:
        buttons = [intent_button(TOPIC_LABELS[topic], TOPIC_INTENTS[topic]) for topic in decision.topics]
        text = "没太明白您想问哪方面。选一个，或者换个说法再问一次："
    buttons.append(intent_button("都不是，找人工", "request_human"))
    dispatcher.utter_message(text=text, buttons=buttons)
    dispatcher.utter_message(json_message=fallback_payload())


def _another_rule_clearly_fits(service: PolicyService, text: str, on: datetime.date, confidence: float) -> bool:
    """NLU hesitates to call this unpaid wages, and the knowledge base is sure of another rule ("老板不给开离职证明":
    a termination certificate, not wages): then that question is answered as any other."""
    if confidence >= CONFIDENT_INTENT or not text:
        return False
    hits = service.search(text, on=on, limit=1)
    return bool(hits) and hits[0].score >= STRONG_SCORE and hits[0].rule.id != WAGE_ARREARS_RULE


class ActionAnswerPolicy(Action):
    """Answer the worker's question from the knowledge base (or ask back; after two misses, offer 12333)."""

    today = staticmethod(datetime.date.today)

    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        on = self.today()
        service = services.policies()
        intent, confidence = latest_intent(tracker)
        typed = latest_text(tracker)
        if intent == "report_wage_arrears" and not _another_rule_clearly_fits(service, typed, on, confidence):
            rule = service.rule(WAGE_ARREARS_RULE, on=on)
            if rule is not None:
                send_answer(dispatcher, service, rule, on, offer_case=False)
                return _answered(rule, typed)
        chosen_topic = None
        text = typed
        if not typed and intent in TOPIC_INTENTS.values():
            # A topic button ("/ask_housing") after a clarifying question: the question is the one asked before.
            chosen_topic = INTENT_TOPICS[intent]
            text = tracker.get_slot("pending_question") or ""
        decision = decide(
            service,
            text,
            on=on,
            intent=intent,
            confidence=confidence,
            context_topic=tracker.get_slot("topic"),
            rule_id=entity(tracker, "rule_id"),
            chosen_topic=chosen_topic if not entity(tracker, "rule_id") else None,
            ranking=intent_ranking(tracker),
        )
        if decision.answers:
            send_answer(dispatcher, service, decision.rule, on)
            return _answered(decision.rule, text or tracker.get_slot("pending_question") or "")
        misses = int(tracker.get_slot("miss_count") or 0)
        question = text or tracker.get_slot("pending_question") or ""
        if misses >= 1:
            return [SlotSet("last_question", question)] + hand_off(
                dispatcher, _with_question(tracker, question), reason="repeated_fallback", text=REPEATED_MISS_TEXT
            )
        send_clarification(dispatcher, decision)
        return [
            SlotSet("miss_count", misses + 1),
            SlotSet("pending_question", question),
            SlotSet("last_question", question),
        ]


def _answered(rule: Rule, question: str) -> list[EventType]:
    return [
        SlotSet("topic", rule.topic),
        SlotSet("last_rule_id", rule.id),
        SlotSet("last_question", question or None),
        SlotSet("pending_question", None),
        SlotSet("miss_count", 0),
    ]


def _with_question(tracker: Tracker, question: str) -> Tracker:
    """The tracker as the handoff summary should see it: with this turn's question as the last question."""
    copy = tracker.copy()
    copy.slots["last_question"] = question
    return copy
