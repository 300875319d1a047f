"""SMS channel: inbound provider callbacks, outbound messages through a provider, opt-out honoured.

Served at `/webhooks/sms/webhook`; registered in credentials.yml as `channels.sms.SmsInput` with `webhook_secret`
(`SMS_WEBHOOK_SECRET`). Unauthenticated or stale callbacks get 403, malformed ones 400, bodies over 16 KiB 413, a
sender or address over its rate limit 429. Outbound SMS goes only to mainland mobiles that have written. Delivery
reports (Tencent's 状态报告) arrive at `/webhooks/sms/report`, authenticated the same way.

- `templates`: `SmsMessage` (template, variables, whole text), the two templates to register (reply, case update),
  `TemplateLimits` (account type, signature, per-reply cap) and the builders `reply_messages`, `case_update_message`;
- `providers`: the provider interface (`send(to, message) -> provider ids`), the development outbox (a JSON line per
  message in var/sms-outbox.jsonl) and `OptOutGuard`;
- `tencent`: Tencent Cloud SMS `SendSms` (template id + variables), TC3-HMAC-SHA256 signed, over aiohttp;
- `smpp`: a carrier gateway over SMPP 3.4 (SMS_PROVIDER=smpp): codec, client, provider; MOs into the pipeline;
- `config`: the provider SMS_PROVIDER names and the template limits, checked at start-up;
- `inbound`: the generic signed JSON callback and Tencent's reply callback (URL token), parsed;
- `render`: a reply as one text within the reply template's room, the menu and source line kept;
- `channel`: the Rasa input and output channels (claim, opt-out, takeover, menu, turn, send);
- `__main__`: `python -m channels.sms callback-token` prints the Tencent callback URL's path.

Replies: texts, a numbered menu for buttons (digit replies map back to the payload; menus kept 24 h in the app
store), the source line last; sent through the reply template as one long SMS (`templates.reply_messages`).
"""

from channels.sms.channel import SmsInput, SmsOutput, SmsPushOutput
from channels.sms.config import check_provider_config, check_replies, provider_for, provider_from_env, template_limits
from channels.sms.inbound import (
    InboundSms,
    MalformedSms,
    mainland_mobile,
    normalize_phone,
    parse_generic,
    parse_tencent,
    sign_body,
    tencent_callback_token,
)
from channels.sms.providers import (
    OptOutGuard,
    OutboxProvider,
    SmsOptedOut,
    SmsProvider,
    SmsRecipientRefused,
    SmsSendError,
)
from channels.sms.render import OPT_IN_CONFIRMATION, OPT_OUT_CONFIRMATION, render_sms
from channels.sms.templates import (
    RepliesNotSupported,
    SmsMessage,
    TemplateLimits,
    case_update_message,
    reply_messages,
)
from channels.sms.tencent import TencentSmsProvider, tc3_authorization

__all__ = [
    "OPT_IN_CONFIRMATION",
    "OPT_OUT_CONFIRMATION",
    "InboundSms",
    "MalformedSms",
    "OptOutGuard",
    "OutboxProvider",
    "RepliesNotSupported",
    "SmsInput",
    "SmsMessage",
    "SmsOptedOut",
    "SmsOutput",
    "SmsProvider",
    "SmsPushOutput",
    "SmsRecipientRefused",
    "SmsSendError",
    "TemplateLimits",
    "TencentSmsProvider",
    "case_update_message",
    "check_provider_config",
    "check_replies",
    "mainland_mobile",
    "normalize_phone",
    "parse_generic",
    "parse_tencent",
    "provider_for",
    "provider_from_env",
    "render_sms",
    "reply_messages",
    "sign_body",
    "tc3_authorization",
    "template_limits",
    "tencent_callback_token",
]
