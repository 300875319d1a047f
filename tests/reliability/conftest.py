"""The reliability suite's own running assistant: real launcher, known channel secrets, a local fake WeChat API.

Bad-input, fault and load tests share it (one start per test session: a start costs a minute of CPU on two cores).
The fault tests wait until the launcher has restarted what they killed, so the next test finds it whole again.
NXA_SOAK=1 (`make soak`) makes the load tests longer.
"""

from __future__ import annotations

import secrets

import pytest

from tests.reliability.support import FakeWeChatApi, start_patiently
from tests.support.assistant import Assistant


@pytest.fixture(scope="session")
def fake_wechat_api():
    api = FakeWeChatApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def channel_secrets(fake_wechat_api) -> dict[str, str]:
    return {
        "WECHAT_TOKEN": secrets.token_hex(8),
        "WECHAT_APP_ID": "wxreliability000000",
        "WECHAT_APP_SECRET": secrets.token_hex(8),
        "WECHAT_ENCODING_AES_KEY": "",
        "WECHAT_API_BASE": fake_wechat_api.url,
        "SMS_WEBHOOK_SECRET": secrets.token_hex(8),
        "SMS_PROVIDER": "outbox",
        # the load tests measure capacity from one address with senders faster than any worker: not rate limited
        "WEBHOOK_SENDER_LIMIT": "100000",
        "WEBHOOK_ADDRESS_LIMIT": "100000",
    }


@pytest.fixture(scope="session")
def reliable_assistant(trained_model, tmp_path_factory, channel_secrets):
    """The whole assistant with its own var/ folder and channel secrets the tests know."""
    running = start_patiently(Assistant(tmp_path_factory.mktemp("reliability-var"), extra_env=channel_secrets))
    yield running
    running.stop()
