"""Answering a policy question from the knowledge base, or asking a short clarifying question.

`decide()` is the whole judgement, a pure function of the question, the NLU result and the conversation's context
(the rule last answered and its topic). The question is ranked ONCE (`PolicyService.rank`); every branch below
filters that one ranking in memory, and the branches are tried top to bottom:

1. A rule chosen by a button is answered as is; a topic chosen by a button is searched within that topic.
2. A follow-up that names no topic ("那在哪儿办理", "要带啥") is answered from the rule last answered: the facet it
   asks for (where, bring, how_long, cost, who, deadline) when that rule has it; then from the rules related to it
   (the one with that facet, or a confident hit among them); then the rule of its topic and subject whose title
   answers that facet ("办失业登记要带啥材料" after 失业登记); a follow-up that names nothing at all ("这个咋整")
   gets the last rule's main answer; then within the conversation's topic; a follow-up that still finds nothing is
   asked back with the topic's likeliest rules. A short facet question that names nothing else ("能领多长时间") is a
   follow-up even when NLU names the last rule's topic; a facet question NLU reads as a new one ("啥人能落") still
   gets the last rule's facet when nothing else in the base fits better.
3. Otherwise the whole base. A hit is answered when its score reaches MIN_CONFIDENT_SCORE and the topic of NLU's
   best intent agrees (two independent signals naming the same topic); with no topic from NLU at all, only a
   strong hit (STRONG_SCORE) is answered (for a "follow-up" with no context, only one FAR_AHEAD of every other
   rule: "居柱证在哪办" names its subject, "要带啥材料" does not). When NLU and the knowledge base disagree, a very
   confident intent with a confident rule in its own topic wins, a strong hit with nothing confident in the
   intent's topic wins, and anything else is asked back with both candidates (a wrong rule said confidently is
   worse than asking back). When the first hit's title names nothing of the question and a close second of its
   topic names a term of it, the second is taken ("公租房外地人能申请吗": 公租房, not 住房公积金).
4. A weak match alone is never answered: the worker gets two or three buttons (the likeliest rules, or topics), and
   a second non-answer in a row offers 12333 instead (actions/handoff.py). The one exception is corroboration: a
   hit a little below the bar (CORROBORATED_SCORE) that clearly leads its topic (CLEAR_MARGIN) in the topic a very
   confident intent (VERY_CONFIDENT_INTENT) names.

A hit that matched an expired rule with a successor (issue 11 §3a) is answered with the successor and the expired
rule's change note. Every figure the worker reads comes from the rule's own text.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions._catalogue import CASE_RULES, CHECK_KEYWORDS, TOPIC_MENU, WAGE_ARREARS_RULE
from actions._dialogue import (
    FACET_LABELS,
    FACET_WORDS,
    INTENT_TOPICS,
    TOPIC_INTENTS,
    asked_facet,
    asks_for_check,
    entity,
    frustrated,
    intent_ranking,
    latest_intent,
    latest_text,
)
from actions._messages import (
    HOTLINE,
    TOPIC_LABELS,
    answer_payload,
    fallback_payload,
    handoff_payload,
    intent_button,
    short_title,
    source_line,
    text_button,
)
from actions.case_status import FORM as CASE_STATUS_FORM
from actions.case_status import find_case_id
from actions.eligibility import send_result, volunteered_facts
from actions.forms import asks_something
from actions.handoff import APOLOGY_TEXT, REPEATED_MISS_TEXT, hand_off
from actions.services import MIN_CONFIDENT_SCORE, Hit, PolicyService
from nlu.text import normalize_keep_offsets
from policies_kb import Rule

STRONG_SCORE = 0.5  # a hit this good is answered even when NLU names no topic
CONFIDENT_INTENT = 0.8  # an NLU topic intent this sure counts as the question's topic
VERY_CONFIDENT_INTENT = 0.9  # ... and this sure, it wins a disagreement with the knowledge base
CORROBORATED_SCORE = 0.25  # a weak hit this good, in the topic a very confident intent names, is answered
CLEAR_MARGIN = 0.05  # ... when it leads the topic's second hit by this much
CLOSE_MARGIN = 0.1  # two hits of one topic closer than this are told apart by the terms their titles name
FAR_AHEAD = 0.2  # a follow-up with no context whose first hit leads all others by this much names its subject
DISAGREEMENT_LEAD = 0.3  # a strong hit this far ahead of the best rule of the topic NLU names wins a disagreement
COVERAGE_LEAD = 2  # a close rival whose title covers this many more characters of the question is taken instead
QUESTION_WORDS = set("能不可以吗呢啥咋么怎样的了是有没要会还")  # a shared piece made only of these covers nothing
MIN_ANCHOR = 2  # characters a title shares with the question (or a facet neighbour's with the last rule's) to count
NAMED_TERM = 3  # ... and this many: the title names a term of the question ("公租房")
MAX_CHOICES = 3
MIN_CANDIDATE_SCORE = 0.1  # below this a rule is no likely candidate for a clarifying button
WAGE_RULE_LEAD = 0.1  # a wage report gives way to a confident rule this far ahead of the wage-arrears rule
GUESSED_TOPIC_INTENTS = ("nlu_fallback", "inform")  # intents whose ranking still names the question's likely topic
GUESSED_TOPIC_FLOOR = 0.2  # ... for a statement, a topic intent ranked at least this sure
FOLLOW_UP_REST = 3  # characters a follow-up may name besides its facet and question words ("报名得拿些啥": 报名得)
MIN_FACTS_OVER_TOPIC = 2  # a statement with this many facts of the offered check is about it, whatever NLU's topic


@dataclass
class Decision:
    """Answer `rule` (only its `facet`, when one is asked), or ask back with `rules` (preferred) or `topics`."""

    rule: Rule | None = None
    rules: list[Rule] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    why: str = ""
    facet: str | None = None
    superseded: Rule | None = None
    hits: list[Hit] = field(default_factory=list)  # the question's one ranking, for the caller to filter

    @property
    def answers(self) -> bool:
        return self.rule is not None


def _answer(hit: Hit, why: str, facet: str | None) -> Decision:
    """Answer the hit's rule: that facet's text when the question asks for one the rule has."""
    has_facet = facet if facet and facet in PolicyService.facets(hit.rule) else None
    return Decision(rule=hit.rule, why=why, facet=has_facet, superseded=hit.superseded)


def decide(
    service: PolicyService,
    text: str,
    *,
    on: datetime.date,
    intent: str | None,
    confidence: float,
    context_topic: str | None = None,
    context_rule_id: str | None = None,
    rule_id: str | None = None,
    chosen_topic: str | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> Decision:
    """What to do with one question (see the module docstring). `ranking` is NLU's intent ranking. The decision
    carries the question's ranking (`hits`) for the caller to filter, never to search again."""
    if rule_id:
        rule = service.rule(rule_id, on=on)
        if rule is not None:
            return Decision(rule=rule, why="chosen")
    ranked = service.rank(text, on=on) if text else []  # the one search of this question
    decision = _decide(
        service,
        text,
        ranked,
        on=on,
        intent=intent,
        confidence=confidence,
        context_topic=context_topic,
        context_rule_id=context_rule_id,
        chosen_topic=chosen_topic,
        ranking=ranking,
    )
    decision.hits = ranked
    return decision


def _decide(
    service: PolicyService,
    text: str,
    ranked: list[Hit],
    *,
    on: datetime.date,
    intent: str | None,
    confidence: float,
    context_topic: str | None,
    context_rule_id: str | None,
    chosen_topic: str | None,
    ranking: list[tuple[str, float]] | None,
) -> Decision:
    facet = asked_facet(text)

    def of_topic(topic: str) -> list[Hit]:
        return [hit for hit in ranked if hit.rule.topic == topic]

    if chosen_topic:
        hits = of_topic(chosen_topic)
        if hits and hits[0].score >= MIN_CONFIDENT_SCORE:
            return _answer(hits[0], "chosen topic", facet)
        return Decision(rules=_candidates(hits) or _menu(service, chosen_topic, on), why="chosen topic, unclear")

    # The topic NLU names (its best guess when it fell back), and the same only when NLU is confident of it.
    nlu_topic = (
        _best_guess_topic(ranking or [], intent) if intent in GUESSED_TOPIC_INTENTS else INTENT_TOPICS.get(intent or "")
    )
    intent_topic = INTENT_TOPICS.get(intent or "") if confidence >= CONFIDENT_INTENT else None
    context_rule = service.rule(context_rule_id, on=on) if context_rule_id else None
    follow_up = (
        intent == "ask_followup"
        or intent_topic is None
        or (
            context_rule is not None
            and facet is not None
            and intent_topic == context_rule.topic
            and _names_nothing_new(text, context_rule)
        )
    )
    if (
        context_rule is not None
        and facet
        and facet in service.facets(context_rule)
        and (follow_up or not _better_than_context(ranked, context_rule, intent_topic))
    ):
        # 1. the rule just answered has the facet asked for: a follow-up's, or one asked with a topic's words NLU read
        # as a new question ("看病前得先找谁 社保局还是医院" after 异地就医, "啥人能落" after the settlement rule)
        # when nothing else in the base fits better
        why = "facet of the last rule" if follow_up else "facet of the last rule, no better hit"
        return Decision(rule=context_rule, facet=facet, why=why)
    if context_rule is not None and follow_up and (facet or intent == "ask_followup"):
        # 2. the rules related to the rule just answered
        related = service.related(context_rule, on=on)
        with_facet = [rule for rule in related if facet and facet in service.facets(rule)]
        if with_facet:
            by_rank = [hit.rule for hit in ranked if hit.rule in with_facet]
            return Decision(rule=(by_rank or with_facet)[0], facet=facet, why="facet of a related rule")
        related_hits = [hit for hit in ranked if hit.rule in related]
        if related_hits and related_hits[0].score >= MIN_CONFIDENT_SCORE:
            return _answer(related_hits[0], "related to the last rule", facet)
        # 2b. a rule of the same topic and subject whose title answers that facet ("办失业登记要带啥材料")
        neighbour = _facet_neighbour(service, context_rule, facet, on) if facet else None
        if neighbour is not None:
            return Decision(rule=neighbour, why="a neighbour whose title answers the facet")
        if not facet and intent == "ask_followup" and not _candidates(ranked):
            # 2c. "这个咋整", "那咋办": a follow-up that names nothing at all is about the rule just answered (its main
            # answer; when that was the last reply, the caller says what it needs instead of repeating it)
            return Decision(rule=context_rule, why="a bare follow-up on the last rule")
    if context_topic and follow_up:
        # 3. the conversation's topic
        in_context = of_topic(context_topic)
        if in_context and in_context[0].score >= MIN_CONFIDENT_SCORE:
            return _answer(_tell_apart(in_context, text), "follow-up in context", facet)
        if intent == "ask_followup":
            return Decision(
                rules=_candidates(in_context) or _menu(service, context_topic, on), why="follow-up, unclear in context"
            )

    # 4. the whole base
    hits = ranked
    top = hits[0] if hits else None
    if top is not None and top.score >= MIN_CONFIDENT_SCORE:
        chosen = _tell_apart(hits, text)
        if nlu_topic == chosen.rule.topic:
            return _answer(chosen, "agreed", facet)
        if intent_topic is None:
            if chosen.score >= STRONG_SCORE and (intent != "ask_followup" or _far_ahead(chosen, hits)):
                return _answer(chosen, "strong hit", facet)
            return Decision(rules=_candidates(hits), why="no topic intent, hit not strong")
        in_topic = of_topic(intent_topic)
        topic_top = _tell_apart(in_topic, text) if in_topic else None
        topic_confident = topic_top is not None and (
            topic_top.score >= MIN_CONFIDENT_SCORE or _corroborated(in_topic, confidence)
        )
        if (
            topic_top is not None
            and topic_confident
            and confidence >= VERY_CONFIDENT_INTENT
            and chosen.score < STRONG_SCORE
        ):
            return _answer(topic_top, "intent wins disagreement", facet)
        if chosen.score >= STRONG_SCORE and (
            not topic_confident or topic_top is None or chosen.score - topic_top.score >= DISAGREEMENT_LEAD
        ):
            # "没活干了 失业金能领不": NLU says employment, but the 失业金 rule leads every employment rule by far
            return _answer(chosen, "knowledge base wins disagreement", facet)
        return Decision(rules=_candidates([chosen, *in_topic[:1], *hits]), why="disagreement")

    if intent_topic is not None:
        in_topic = of_topic(intent_topic)
        if _corroborated(in_topic, confidence):
            return _answer(in_topic[0], "corroborated by a very confident intent", facet)
        return Decision(rules=_candidates(in_topic) or _menu(service, intent_topic, on), why="weak, topic known")
    rules = _candidates(hits)
    if rules:
        return Decision(rules=rules, why="weak")
    return Decision(topics=_likely_topics(ranking or [], context_topic), why="nothing found")


def _named_instead(
    decision: Decision, repeated: Rule, question: str, last_question: str | None, intent: str | None
) -> Hit | None:
    """When the decision would repeat the rule just answered for a new question (not a follow-up, not the same
    words again): the next confident rule of the question's ranking, of the same topic, when its title names a
    term of the question (NAMED_TERM characters: "小微企业") that the repeated rule's title does not; else None
    (the caller says what it needs instead)."""
    if intent == "ask_followup" or not question:
        return None
    if last_question and normalize_keep_offsets(last_question) == normalize_keep_offsets(question):
        return None
    view = normalize_keep_offsets(question)
    repeated_title = normalize_keep_offsets(repeated.title)
    for hit in decision.hits:
        if hit.rule.id == repeated.id or hit.rule.topic != repeated.topic or hit.score < MIN_CONFIDENT_SCORE:
            continue
        term = _longest_common_piece(view, normalize_keep_offsets(hit.rule.title))
        named = len(term) >= NAMED_TERM and not set(term) <= QUESTION_WORDS and term not in repeated_title
        return hit if named else None
    return None


def _longest_common_piece(a: str, b: str) -> str:
    """The longest substring of `a` that `b` contains (the first of that length)."""
    length = _common_length(a, b)
    return next((a[i : i + length] for i in range(len(a) - length + 1) if a[i : i + length] in b), "")


def _tell_apart(hits: list[Hit], text: str) -> Hit:
    """The first hit, unless another of its topic scores within CLOSE_MARGIN and its title names a term of the
    question (at least NAMED_TERM characters: "公租房") while the first hit's title names none of it (at most
    MIN_ANCHOR - 1 characters in common): then that one ("公租房外地人能申请吗" is about 公租房, not the
    住房公积金 rule the search ranks a little higher). Rules of different topics are left to the topic logic."""
    top = hits[0]
    question = normalize_keep_offsets(text or "")
    close = [hit for hit in hits[1:] if top.score - hit.score < CLOSE_MARGIN and hit.rule.topic == top.rule.topic]
    if _common_length(question, normalize_keep_offsets(top.rule.title)) >= MIN_ANCHOR:
        return _better_covered(top, close, question)
    named = [
        (_common_length(question, normalize_keep_offsets(hit.rule.title)), index) for index, hit in enumerate(close)
    ]
    named = [(length, index) for length, index in named if length >= NAMED_TERM]
    if not named:
        return top
    return close[max(named, key=lambda pair: (pair[0], -pair[1]))[1]]


def _better_covered(top: Hit, close: list[Hit], question: str) -> Hit:
    """`top`, unless a close rival's title covers COVERAGE_LEAD more characters of the question (in pieces of at
    least MIN_ANCHOR characters) than top's: "醫保換地方年限還算不算" names 医保 and 换地方, as the 医保 transfer rule's
    title does, where the first hit's (失业保险换地方) names only 换地方."""
    if COVERAGE_LEAD is None or not close:
        return top
    covered = [
        (_coverage(question, normalize_keep_offsets(hit.rule.title)), -index, hit) for index, hit in enumerate(close)
    ]
    best, _, rival = max(covered, key=lambda item: (item[0], item[1]))
    return rival if best >= _coverage(question, normalize_keep_offsets(top.rule.title)) + COVERAGE_LEAD else top


def _coverage(question: str, title: str) -> int:
    """How many characters of the question the title shares, in common pieces of at least MIN_ANCHOR characters
    (the longest first, each piece of the question counted once; pieces of QUESTION_WORDS alone count nothing)."""
    total = 0
    while True:
        length = _common_length(question, title)
        if length < MIN_ANCHOR:
            return total
        piece = next(question[i : i + length] for i in range(len(question)) if question[i : i + length] in title)
        if not set(piece) <= QUESTION_WORDS:  # "能不能", "是不是" say nothing of the subject
            total += length
        question = question.replace(piece, "\x00", 1)
        title = title.replace(piece, "\x01", 1)


def _far_ahead(chosen: Hit, hits: list[Hit]) -> bool:
    """A "follow-up" with no context that still names its subject ("居柱证在哪办"): its hit leads every other rule
    by FAR_AHEAD, so the question is no bare "要带啥材料"."""
    others = [hit.score for hit in hits if hit.rule != chosen.rule]
    return chosen.score - max(others, default=0.0) >= FAR_AHEAD


def _facet_neighbour(service: PolicyService, rule: Rule, facet: str, on: datetime.date) -> Rule | None:
    """The rule of `rule`'s topic whose title asks that facet ("…去哪申请", "…要带啥材料", "…多久内…") and shares
    the most of `rule`'s subject (at least MIN_ANCHOR characters of its title, strictly more than any other), or
    None. Stands in for `related` links and facet texts the rule files do not carry."""
    pattern = dict(FACET_WORDS)[facet]
    subject = normalize_keep_offsets(rule.title)
    if pattern.search(subject):
        return None  # the rule itself is the one about that facet: no neighbour knows it better
    scored = [
        (_common_length(normalize_keep_offsets(other.title), subject), other)
        for other in service.rules_of_topic(rule.topic, on=on)
        if other.id != rule.id and pattern.search(normalize_keep_offsets(other.title))
    ]
    scored.sort(key=lambda pair: -pair[0])
    if not scored or scored[0][0] < MIN_ANCHOR or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _common_length(a: str, b: str) -> int:
    """The length of the longest common substring of a and b (Chinese characters; both short)."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def _corroborated(in_topic: list[Hit], confidence: float) -> bool:
    """A hit below MIN_CONFIDENT_SCORE that is still answered: the NLU intent names its topic very confidently, the
    hit is the clear first of that topic (CLEAR_MARGIN ahead of the second) and not far below the bar."""
    if CORROBORATED_SCORE is None or confidence < VERY_CONFIDENT_INTENT or not in_topic:
        return False
    margin = in_topic[0].score - (in_topic[1].score if len(in_topic) > 1 else 0.0)
    return in_topic[0].score >= CORROBORATED_SCORE and margin >= CLEAR_MARGIN


def _names_nothing_new(text: str, rule: Rule) -> bool:
    """True when the question, without its facet and question words, names next to nothing, and nothing the
    rule's title does not ("能领多长时间", "报名得拿些啥" after 随迁娃娃啥时候报名上学): a follow-up on that rule,
    whatever topic NLU hears in it; "养老保险在哪交" after the 医保 rule names 养老保险."""
    rest = normalize_keep_offsets(text or "")
    for _, pattern in FACET_WORDS:
        rest = pattern.sub("", rest)
    rest = "".join(char for char in rest if char.isalnum() and char not in QUESTION_WORDS)
    if len(rest) > FOLLOW_UP_REST:
        return False  # "公租房外地人能申请吗" again: the rule's own question, not a follow-up on it
    return len(rest) - _coverage(rest, normalize_keep_offsets(rule.title)) < MIN_ANCHOR


def _better_than_context(ranked: list[Hit], context_rule: Rule, intent_topic: str | None) -> bool:
    """A confident hit other than the last rule, in the topic NLU names when it names one ("啥人能落" finds the
    loan rule 谁能申请 confidently, but nothing of 落户, the topic it asks about)."""
    return any(
        hit.score >= MIN_CONFIDENT_SCORE
        and hit.rule != context_rule
        and (intent_topic is None or hit.rule.topic == intent_topic)
        for hit in ranked
    )


def _best_guess_topic(ranking: list[tuple[str, float]], intent: str | None) -> str | None:
    """The topic of the NLU's best-ranked real intent when it fell back (below the fallback threshold); for a
    statement (`inform`: "在吴忠住了一年多了 想办个居住证"), the best-ranked topic intent at least GUESSED_TOPIC_FLOOR
    sure."""
    if intent == "inform":
        return next(
            (INTENT_TOPICS[name] for name, score in ranking if name in INTENT_TOPICS and score >= GUESSED_TOPIC_FLOOR),
            None,
        )
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
    dispatcher: CollectingDispatcher,
    service: PolicyService,
    rule: Rule,
    on: datetime.date,
    *,
    offer_case: bool = True,
    facet: str | None = None,
    superseded: Rule | None = None,
) -> None:
    """The rule's answer (or only the facet asked for), its source line, what the worker can do next (buttons), and
    the payloads. A question that matched an expired rule first gets that rule's change note."""
    change_note = getattr(superseded, "change_note", None) if superseded is not None else None
    if change_note:
        dispatcher.utter_message(text=f"您问的是以前的规定，现在已经变了：{change_note}")
    dispatcher.utter_message(text=service.facets(rule)[facet] if facet else rule.answer)
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
    dispatcher.utter_message(json_message=answer_payload(rule, on, facet=facet, superseded=superseded))
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


def send_instead_of_repeating(dispatcher: CollectingDispatcher, service: PolicyService, rule: Rule) -> None:
    """The next answer would repeat the last one: say what is needed, and offer the facets, the check or a person."""
    facets = [facet for facet in FACET_LABELS if facet in service.facets(rule)]
    buttons = [text_button(FACET_LABELS[facet]) for facet in facets]
    lines = [f"刚才说的就是“{short_title(rule)}”这一条，我就不重复了。"]
    if facets:
        lines.append("您想具体问哪一点？比如" + "、".join(FACET_LABELS[facet] for facet in facets) + "。")
    else:
        lines.append("您具体想知道啥？换个说法告诉我，比如您的情况、想办成什么。")
    if service.checkable(rule):
        lines.append("想知道自己符不符合，点“帮我看看”，我问您几个问题。")
        buttons.append(intent_button("帮我看看", "check_eligibility", eligibility_rule=rule.id))
    lines.append(f"想直接问人，点“转人工”或打 {HOTLINE}。")
    buttons.append(intent_button("转人工", "request_human"))
    dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
    dispatcher.utter_message(json_message=fallback_payload(reason="repeat", rule_id=rule.id))


def _another_rule_clearly_fits(service: PolicyService, text: str, on: datetime.date, confidence: float) -> bool:
    """A report of unpaid wages that asks something another rule answers better is answered as any other question.
    When NLU hesitates to call it unpaid wages, a strong hit of another rule is enough ("老板不给开离职证明": a
    termination certificate, not wages). Whatever NLU's confidence, a confident hit that leads the wage-arrears rule
    by WAGE_RULE_LEAD is too ("被拖欠工钱三年了还能要不": the two-year limit; "公司倒了老板跑了 政府能先垫点工钱不":
    the emergency advance). A close call stays with the complaint rule and its case form."""
    if not text:
        return False
    ranked = service.rank(text, on=on)
    if not ranked or ranked[0].rule.id == WAGE_ARREARS_RULE or ranked[0].score < MIN_CONFIDENT_SCORE:
        return False
    if confidence < CONFIDENT_INTENT and ranked[0].score >= STRONG_SCORE:
        return True
    wage = next((hit.score for hit in ranked if hit.rule.id == WAGE_ARREARS_RULE), 0.0)
    return ranked[0].score - wage >= WAGE_RULE_LEAD


def named_check(service: PolicyService, text: str, on: datetime.date) -> str | None:
    """The check a request names by its words ("失业金", "落户"), or None."""
    text = normalize_keep_offsets(text or "")
    for word, rule_id in CHECK_KEYWORDS:
        if word in text and service.rule(rule_id, on=on) is not None:
            return rule_id
    return None


def _checkable(service: PolicyService, rule_id: str | None, on: datetime.date) -> str | None:
    rule = service.rule(rule_id, on=on) if rule_id else None
    return rule.id if rule is not None and service.checkable(rule) else None


class ActionAnswerPolicy(Action):
    """Answer the worker's question from the knowledge base (or ask back; after two non-answers, offer 12333); start
    the check the worker asks for, or the one a volunteered fact answers."""

    today = staticmethod(datetime.date.today)

    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        on = self.today()
        service = services.policies()
        intent, confidence = latest_intent(tracker)
        typed = latest_text(tracker)
        if frustrated(typed):
            return hand_off(dispatcher, tracker, reason="frustration", text=APOLOGY_TEXT)
        if find_case_id(typed):
            # "查案件 138 9501 2345 NX2612020003FVPD" that NLU did not read as a look-up: a case number is one
            return [FollowupAction(CASE_STATUS_FORM)]
        if intent == "report_wage_arrears" and not _another_rule_clearly_fits(service, typed, on, confidence):
            rule = service.rule(WAGE_ARREARS_RULE, on=on)
            if rule is not None:
                send_answer(dispatcher, service, rule, on, offer_case=False)
                return _answered(service, rule, typed, None)
        volunteered = self._volunteered(dispatcher, service, tracker, typed, on)
        if volunteered is not None:
            return volunteered
        chosen_topic = None
        text = typed
        if not typed and intent and intent in TOPIC_INTENTS.values():
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
            context_rule_id=tracker.get_slot("last_rule_id"),
            rule_id=entity(tracker, "rule_id"),
            chosen_topic=chosen_topic if not entity(tracker, "rule_id") else None,
            ranking=intent_ranking(tracker),
        )
        question = text or tracker.get_slot("pending_question") or ""
        if typed and asks_for_check(typed):
            # "能上学不 给看看", "这个行不行": the check of the rule named, answered or offered, at once.
            check = (
                named_check(service, typed, on)
                or _checkable(service, decision.rule.id if decision.rule else None, on)
                or _checkable(service, tracker.get_slot("offered_check"), on)
                or _checkable(service, tracker.get_slot("last_rule_id"), on)
            )
            if check is not None:
                return [
                    SlotSet("last_question", question or None),
                    SlotSet("eligibility_rule", check),
                    FollowupAction("eligibility_form"),
                ]
        misses = int(tracker.get_slot("miss_count") or 0)
        rule = decision.rule
        if rule is not None:
            repeats = rule.id == tracker.get_slot("last_rule_id") and decision.facet == tracker.get_slot("last_facet")
            if not repeats or entity(tracker, "rule_id"):
                send_answer(dispatcher, service, rule, on, facet=decision.facet, superseded=decision.superseded)
                return _answered(service, rule, question, decision.facet) + _stated_facts(
                    service, tracker, rule, typed, on
                )
            other = _named_instead(decision, rule, question, tracker.get_slot("last_question"), intent)
            if other is not None:
                # "小微企业现在最多能贷多少" right after the loan limits: the next rule of the ranking names what the
                # question adds, so that rule answers instead of the one just given
                send_answer(dispatcher, service, other.rule, on, superseded=other.superseded)
                return _answered(service, other.rule, question, None)
            if misses < 1:
                send_instead_of_repeating(dispatcher, service, rule)
                return [SlotSet("miss_count", misses + 1), SlotSet("last_question", question or None)]
        if misses >= 1:
            return [SlotSet("last_question", question)] + hand_off(
                dispatcher, _with_question(tracker, question), reason="repeated_fallback", text=REPEATED_MISS_TEXT
            )
        send_clarification(dispatcher, decision)
        return [
            SlotSet("last_facet", "asked_back"),  # the answer before this question is no longer the last reply
            SlotSet("miss_count", misses + 1),
            SlotSet("pending_question", question),
            SlotSet("last_question", question),
        ]

    @staticmethod
    def _volunteered(
        dispatcher: CollectingDispatcher, service: PolicyService, tracker: Tracker, typed: str, on: datetime.date
    ) -> list[EventType] | None:
        """A statement that answers a question of the check last offered ("交了五年多", "有房子，自己买的"): the
        facts are kept and the check is decided at once when they suffice, or continued (its form asks the rest).
        None when the message states no such fact, or asks something."""
        checks = _checks_in_context(service, tracker, on)
        asks = asks_something(typed) or "几" in typed
        if not checks or not typed or (asks and not asks_for_check(typed)):
            return None
        intent, confidence = latest_intent(tracker)
        other_topic = INTENT_TOPICS.get(intent or "")
        facts = dict(tracker.get_slot("facts") or {})
        for check in checks:
            found = volunteered_facts(service, check, typed, facts, on)
            elsewhere = confidence >= CONFIDENT_INTENT and other_topic and other_topic != check.split(".")[0]
            if elsewhere and len(found) < MIN_FACTS_OVER_TOPIC:
                # "我在县城买了房 能落户不" after a housing answer: a settlement question, not a housing fact; but
                # "在宁夏干了八个多月 居住证办了 眼下没活干" states three facts of the 就业困难 check
                continue
            if found:
                break
        else:
            return None
        facts.update(found)
        events: list[EventType] = [SlotSet("facts", facts), SlotSet("last_question", typed)]
        if service.evaluate(check, facts, on=on).missing_facts:
            return events + [SlotSet("eligibility_rule", check), FollowupAction("eligibility_form")]
        return events + send_result(dispatcher, service, check, facts, on)


class ActionCapabilities(Action):
    """What can you do ("你都能干啥")? The topic menu; but "上哪问去", "这事上哪问" right after an answer ask where to go about
    the rule just answered (NLU reads the 问 of them as a question about the assistant): that rule's facet."""

    def name(self) -> str:
        return "action_capabilities"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot("last_rule_id") and asked_facet(latest_text(tracker)):
            return await ActionAnswerPolicy().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_capabilities")
        return []


def _checks_in_context(service: PolicyService, tracker: Tracker, on: datetime.date) -> list[str]:
    """The checks a statement of fact may answer, likeliest first: the check last offered, the rule last answered,
    then the checkable rules related to it ("交了两年 是自己辞的职" after "失业保险金咋领": the unemployment check)."""
    checks = [
        check
        for check in (
            _checkable(service, tracker.get_slot("offered_check"), on),
            _checkable(service, tracker.get_slot("last_rule_id"), on),
        )
        if check is not None
    ]
    last = service.rule(tracker.get_slot("last_rule_id"), on=on) if tracker.get_slot("last_rule_id") else None
    if last is not None:
        checks += [rule.id for rule in service.related(last, on=on) if service.checkable(rule)]
    return list(dict.fromkeys(checks))


def _stated_facts(
    service: PolicyService, tracker: Tracker, rule: Rule, question: str, on: datetime.date
) -> list[EventType]:
    """A question that states facts of the check its answer offers ("俺失业保险交了十来年 厂子倒闭了 失业金能领不"):
    the facts are kept, so the check, when asked for, does not ask them again."""
    if not question or not service.checkable(rule):
        return []
    facts = dict(tracker.get_slot("facts") or {})
    found = volunteered_facts(service, rule.id, question, facts, on, in_question=True)
    return [SlotSet("facts", {**facts, **found})] if found else []


def _answered(service: PolicyService, rule: Rule, question: str, facet: str | None) -> list[EventType]:
    return [
        SlotSet("topic", rule.topic),
        SlotSet("last_rule_id", rule.id),
        SlotSet("last_facet", facet),
        SlotSet("offered_check", rule.id if service.checkable(rule) else None),
        SlotSet("last_question", question or None),
        SlotSet("pending_question", None),
        SlotSet("miss_count", 0),
    ]


def _with_question(tracker: Tracker, question: str) -> Tracker:
    """The tracker as the handoff summary should see it: with this turn's question as the last question."""
    copy = tracker.copy()
    copy.slots["last_question"] = question
    return copy
