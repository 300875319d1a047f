"""The first conversation, end to end over the REST channel against the real servers."""

import pytest

from tests.support.assistant import customs, texts

pytestmark = pytest.mark.e2e


def test_greeting_in_chinese(assistant):
    reply = texts(assistant.say("foundation-greet", "你好"))
    assert "您好" in reply and "政策助手" in reply


@pytest.mark.parametrize("message", ["我要找人工", "轉人工", "转人工！！"])
def test_request_for_a_person_gets_the_12333_handoff(assistant, message):
    messages = assistant.say(f"foundation-human-{message}", message)
    assert "0951-12333" in texts(messages)
    assert {"kind": "handoff", "target": "12333", "phone": "0951-12333"} in customs(messages)


def test_capabilities_menu_lists_every_topic(assistant):
    reply = texts(assistant.say("foundation-menu", "你能干啥"))
    for topic in ("落户", "上学", "住房", "社保", "创业贷款", "工钱", "培训", "找工作"):
        assert topic in reply


def test_out_of_scope_says_what_is_covered_and_gives_no_kb_answer(assistant):
    messages = assistant.say("foundation-oos", "今天银川天气怎么样")
    assert "0951-12333" in texts(messages)
    assert not [c for c in customs(messages) if c.get("kind") == "answer"]


def test_goodbye_and_thanks(assistant):
    assert "不客气" in texts(assistant.say("foundation-bye", "谢谢你"))
    assert "祝您" in texts(assistant.say("foundation-bye", "再见"))
