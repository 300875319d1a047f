"""A real Sanic server with `channels.rest.RestInput` mounted where Rasa mounts it (/webhooks/rest), and a stand-in
for Rasa's message handler that answers "机器人：<text>" (and nothing to "沉默"). Run by tests/channels/test_rest.py as
`python -m tests.channels.rest_channel_server PORT` with APP_DB_URL naming the app store."""

from __future__ import annotations

import sys

from sanic import Sanic

from channels.rest import RestInput


async def answer(message) -> None:
    if message.text == "沉默":  # like Rasa when the action server is down: no reply at all
        return
    # Rasa sends every bot message through send_response (which bot.safety_net counts)
    await message.output_channel.send_response(message.sender_id, {"text": f"机器人：{message.text}"})


def main(port: int) -> None:
    app = Sanic("rest_channel_test")
    app.blueprint(RestInput.from_credentials(None).blueprint(answer), url_prefix="/webhooks/rest")
    app.run(host="127.0.0.1", port=port, access_log=False, workers=1)


if __name__ == "__main__":
    main(int(sys.argv[1]))
