"""Custom Rasa input channels, one module each, registered by module path in credentials.yml.

- `channels.wechat.WeChatInput`: WeChat Official Account message push (`/webhooks/wechat/webhook`).
- `channels.sms.SmsInput`: inbound SMS callbacks and outbound SMS through a provider (`/webhooks/sms/webhook`).

Their outbound clients are reused by the operator console: `channels.wechat.customer_service_from_env(session)` and
`channels.sms.provider_from_env(session)`. Helpers shared by the channels live in the private `channels._*` modules.
"""
