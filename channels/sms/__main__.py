"""`python -m channels.sms callback-token`: the path, with its token, of Tencent's reply-callback URL."""

from __future__ import annotations

import sys

from bot.settings import Settings
from channels._config import channel_values
from channels.sms.inbound import tencent_callback_token


def main(argv: list[str], settings: Settings) -> int:
    """Print the callback path for SMS_WEBHOOK_SECRET of `settings`; 2 for a usage error, 1 without a secret."""
    if argv[:1] != ["callback-token"]:
        print("usage: python -m channels.sms callback-token   (the token for Tencent's reply-callback URL)")
        return 2
    secret = channel_values(settings).get("SMS_WEBHOOK_SECRET", "")
    if not secret:
        print("SMS_WEBHOOK_SECRET is not set", file=sys.stderr)
        return 1
    print(f"/webhooks/sms/webhook?token={tencent_callback_token(secret)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Settings.from_env()))
