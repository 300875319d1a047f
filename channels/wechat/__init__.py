"""WeChat Official Account (公众号) channel: message push in, passive replies and customer-service messages out.

Served at `/webhooks/wechat/webhook` (Rasa prefixes `/webhooks/<name()>/`); registered in credentials.yml as
`channels.wechat.WeChatInput` with `token`, `app_id`, `app_secret`, `encoding_aes_key` (optional: when set, AES
"safe mode" messages are accepted) and `api_base` (the WeChat API; tests point it at a local server).

- `api`: the customer-service message client and its `stable_token` cache;
- `inbound`: signatures, AES decryption and parsing (403 for a bad signature, 413 over 64 KiB, 400 for anything
  unreadable, hostile XML included);
- `render`: replies as text messages of at most ~2,000 bytes (the first part is the passive reply, the rest follow as
  customer-service messages), and the channel's fixed texts (welcome, media we cannot read, apology);
- `channel`: the Rasa input and output channels (passive reply within 4 s, otherwise customer-service messages;
  retries of one message run its turn once).

Menus are kept in the app store for 30 minutes; subscribing gets a welcome and the assistant's topic menu.
"""

from channels.wechat.api import (
    DEFAULT_API_BASE,
    CustomerServiceClient,
    CustomerServiceWindowClosed,
    WeChatApiError,
    customer_service_for,
    customer_service_from_env,
)
from channels.wechat.channel import WeChatInput, WeChatOutput, WeChatPushOutput
from channels.wechat.inbound import InboundMessage, MalformedMessage, parse_message
from channels.wechat.render import PASSIVE_REPLY_MAX_BYTES, UNSUPPORTED_REPLIES, WELCOME, render_reply, xml_safe

__all__ = [
    "DEFAULT_API_BASE",
    "PASSIVE_REPLY_MAX_BYTES",
    "UNSUPPORTED_REPLIES",
    "WELCOME",
    "CustomerServiceClient",
    "CustomerServiceWindowClosed",
    "InboundMessage",
    "MalformedMessage",
    "WeChatApiError",
    "WeChatInput",
    "WeChatOutput",
    "WeChatPushOutput",
    "customer_service_for",
    "customer_service_from_env",
    "parse_message",
    "render_reply",
    "xml_safe",
]
