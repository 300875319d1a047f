"""The operator console: a web app for 12333 hotline operators (aiohttp, server-rendered Chinese pages).

- 查答案: the knowledge base's search with the assistant's own ranking, rule pages, copy "answer + citation";
- 转人工: the handoff queue with each conversation's summary and transcript; take a conversation over, answer the
  worker through its channel, hand it back (or it goes back by itself after 30 minutes without an operator message);
- 案件: the intake cases, filtered by status, type and county; reveal a phone number (logged), change the status;
- 概览: counts per day from the events Rasa publishes through its SQL event broker and from the app store, and the
  questions that ended in a fallback.

Layout: `web` (the services container, rendering: what views share), `_middleware` (security headers, sessions,
CSRF, cookies), the `_*_views` modules, and `app` (`create_app`, which imports them all). `python -m bot.console
serve` runs it (the launcher does, on CONSOLE_PORT); `python -m bot.console create-operator NAME` adds an operator.
The package itself imports nothing, so importing `bot.console.web` loads no view.
"""
