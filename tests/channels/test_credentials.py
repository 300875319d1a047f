"""credentials.yml: every channel it registers resolves, by the module path Rasa uses, to an input channel whose
name is its URL prefix, and no secret is written in the file."""

from __future__ import annotations

import re

import yaml
from rasa.core.channels.channel import InputChannel
from rasa.shared.utils.common import class_from_module_path

from bot.settings import ROOT


def test_every_registered_channel_resolves_to_its_input_channel():
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    names = {}
    for path in credentials:
        channel = class_from_module_path(path)
        assert issubclass(channel, InputChannel), path
        names[path] = channel.name()
    assert names == {
        "channels.rest.RestInput": "rest",
        "channels.wechat.WeChatInput": "wechat",
        "channels.sms.SmsInput": "sms",
    }


def test_credentials_take_every_value_from_the_environment():
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    values = [value for section in credentials.values() if section for value in section.values()]
    assert values and all(re.fullmatch(r"\$\{[A-Z_]+\}", str(value)) for value in values)
