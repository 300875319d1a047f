"""Custom Rasa input channels, registered by module path in credentials.yml.

- `channels.wechat.WeChatInput`: WeChat Official Account message push (`/webhooks/wechat/webhook`), a package:
  `api` (customer-service client), `inbound` (signatures, AES, parsing), `render`, `channel`.
- `channels.sms.SmsInput`: inbound SMS callbacks and outbound SMS through a provider (`/webhooks/sms/webhook`), a
  package: `providers`, `tencent`, `config`, `inbound`, `render`, `channel`, `__main__` (the CLI).
- `channels.rest.RestInput`: Rasa's REST channel behind the operator takeover gate.

Every channel runs the pipeline of `channels._base` (redact → claim → takeover → menu digit → turn → remember menu →
send). Operator replies leave through `channels.outbound.outbound_for(channel, ...)`, whose `send(conversation,
text)` raises `WindowClosed`, `OptedOut` or `DeliveryRefused`. Helpers shared by the channels live in the private
`channels._*` modules.
"""
