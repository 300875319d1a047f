"""Reading the conversation: the latest message's text, intent and entities, the channel; what its words ask for."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker

from bot.conversation_ids import channel_of
from nlu.text import normalize_keep_offsets
from policies_kb.topics import INTENT_TOPICS as REGISTRY_INTENT_TOPICS
from policies_kb.topics import TOPIC_INTENTS as TOPIC_INTENTS  # re-exported: topic → its intent

# The topic intents and the knowledge-base topic each asks about (policies_kb/topics.yaml); a wage-arrears report
# is a labour-rights question.
INTENT_TOPICS = {**REGISTRY_INTENT_TOPICS, "report_wage_arrears": "labor_rights"}


def latest_text(tracker: Tracker) -> str:
    """What the worker typed last; "" for a button payload ("/ask_housing{...}")."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def intent_ranking(tracker: Tracker) -> list[tuple[str, float]]:
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    return [(item.get("name"), float(item.get("confidence") or 0.0)) for item in ranking if item.get("name")]


def entity(tracker: Tracker, name: str) -> Any | None:
    """The value of the latest message's first entity called `name`, or None."""
    return next(tracker.get_latest_entity_values(name), None)


def entities(tracker: Tracker, name: str) -> list[Any]:
    return list(tracker.get_latest_entity_values(name))


def channel(tracker: Tracker) -> str:
    """The conversation's channel ("rest", "wechat", "sms"): the prefix of its scoped id (`bot.conversation_ids`),
    never a client's claim; the latest input channel only for a legacy, unscoped id."""
    return channel_of(tracker.sender_id) or tracker.get_latest_input_channel() or "unknown"


def active_form(tracker: Tracker) -> str | None:
    """The form that is running, or None (Rasa's "should_not_be_set" placeholder counts as none)."""
    return tracker.active_loop_name


# -- what a message asks for, read from its words (the NLU's intents do not carry these) -------------------------

# The facets of a rule (policies_kb/SCHEMA.md) and the worker's words that ask for each, most specific first.
FACET_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "deadline",
        re.compile(r"截止|截至|期限|最晚|过期|时间限制|几号前|啥时候之前|什么时候之前|多久之?内|多长时间之?内"),
    ),
    (
        "where",
        # 哪达 is Ningxia's 哪里 ("哪达能办"); 那 typed for 哪 ("在那办", "去那领"): only before a verb of getting
        # something done, as "在那边打工" is no question
        re.compile(
            r"在哪|哪儿|哪里|去哪|上哪|到哪|哪达|哪搭|哪个部门|啥地方|什么地方|找谁|哪个窗口|"
            r"(?:在|去|上|到)那(?:儿|里)?(?:办|领|买|交|弄|申请|登记|报名|开|补)"
        ),
    ),
    (
        "bring",
        re.compile(
            r"带啥|带什么|带些啥|要带|得带|拿啥|拿些啥|拿什么|材料|证件|证明材料|准备啥|准备什么|准备些|手续|户口本|身份证吗"
        ),
    ),
    ("how_long", re.compile(r"多久|多长时间|几天|多少天|几个工作日|要等|啥时候能(下来|办好|批|到)|多会儿")),
    ("cost", re.compile(r"要钱|花钱|收费|收钱|费用|免费|交钱|掏钱|花多少|出多少钱|掏多少|收多少|贵不")),
    ("who", re.compile(r"谁能|谁可以|啥人|什么人|哪些人|哪种人|外地人能|外地的能|农民工能")),
)
FACET_LABELS = {
    "where": "在哪办",
    "bring": "要带啥",
    "how_long": "要多久",
    "cost": "要不要钱",
    "who": "谁能办",
    "deadline": "啥时候截止",
}
# Every way a worker asks to have a check run ("帮我看看", "瞅瞅", "给看看", "测一下", "算算", "行不行", "俺行不",
# "中不中", "够格不", "判断判断", "评估一下", "对照一下", "给俺弄弄看能不能补"). 俺 is read as 我 (actions.eligibility.cue_text).
_CHECK_REQUEST = re.compile(
    r"帮我看|帮俺看|帮看|帮忙看|给看看|给我看看|给俺看看|看看我|看一下我|看下我|瞅瞅|瞅一眼|瞅一下|测一下|测测|测一测|算算|算一下|给算|"
    r"行不行|够不够格|符不符合|够不够条件|有没有资格|判断判断|帮我判断|给我判断|评估|对照一下|有没有戏|有戏没|"
    r"弄弄看|给我弄弄|看看?我能不能"
)
# "行不", "中不中", "够格" ask for a check only when the worker speaks of himself ("那俺行不"); without it they ask
# whether a thing is allowed at all ("养老保险退保能行不").
_SELF_CHECK_REQUEST = re.compile(r"(?<![银进执旅])行不(?!通|了|好)|中不中|够格")
# Frustration: the worker has given up on being understood ("你咋听不懂", "说了半天", "算了找人").
_FRUSTRATION = re.compile(
    r"听不懂|听不明白|不明白我|说了半天|说半天|白说|懂不懂|到底懂|算了.{0,3}找人|找个人吧|答非所问|牛头不对马嘴|"
    r"说不清|根本不懂|咋就是不明白|你不行"
)


def asked_facet(text: str) -> str | None:
    """The facet the text asks for ("那在哪儿办理" → "where"), or None."""
    text = normalize_keep_offsets(text or "")
    return next((facet for facet, pattern in FACET_WORDS if pattern.search(text)), None)


def asks_for_check(text: str) -> bool:
    """True when the worker asks to have their own case checked ("帮我瞅瞅", "能上学不 给看看")."""
    text = normalize_keep_offsets(text or "").replace("俺", "我").replace("咱", "我")
    return bool(_CHECK_REQUEST.search(text)) or ("我" in text and bool(_SELF_CHECK_REQUEST.search(text)))


def frustrated(text: str) -> bool:
    """True when the worker says they are not being understood ("你到底懂不懂", "说了半天")."""
    return bool(_FRUSTRATION.search(normalize_keep_offsets(text or "")))
