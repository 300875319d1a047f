"""Chinese labels for the codes the console shows (topics, channels, scopes, delivery states)."""

from __future__ import annotations

from policies_kb.topics import OPERATOR_LABELS

__all__ = [
    "TOPIC_LABELS",
    "CHANNEL_LABELS",
    "SCOPE_LABELS",
    "TARGET_LABELS",
    "DELIVERY_LABELS",
    "HANDOFF_REASON_LABELS",
    "OUTCOME_LABELS",
    "label",
]

TOPIC_LABELS = OPERATOR_LABELS  # the operator's word for each topic (policies_kb/topics.yaml)
CHANNEL_LABELS = {"wechat": "微信", "sms": "短信", "rest": "网页/REST"}
SCOPE_LABELS = {"national": "全国", "ningxia": "宁夏全区"}
TARGET_LABELS = {"12333": "转 12333 人工", "case_intake": "登记案件"}
HANDOFF_REASON_LABELS = {
    "user_request": "工人要求转人工",
    "decided_locally": "政策由当地定，需人工答复",
    "repeated_fallback": "助手多次没听懂",
}
OUTCOME_LABELS = {"eligible": "符合", "not_eligible": "不符合", "partly_eligible": "部分符合", "refer": "需当地认定"}
DELIVERY_LABELS = {
    "received": "已收到",
    "pending": "待对方取走",
    "sending": "发送中",
    "sent": "已送达",
    "failed": "发送失败",
}


def label(table: dict[str, str], code: str | None) -> str:
    """The Chinese label of `code`, or the code itself when it has none (a city or county scope, a new topic)."""
    return table.get(code or "", code or "")
