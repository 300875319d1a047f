#!/usr/bin/env bash
# The whole check, as CI runs it: data validation, the knowledge base check, then every pytest test.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
echo "[test] rasa data validate"
.venv/bin/rasa data validate --domain domain.yml --data data --config config.yml 2>&1 | grep -E "^(.*(Error|error|ERROR|invalid|conflict).*)$" || true
.venv/bin/rasa data validate --domain domain.yml --data data --config config.yml >/dev/null 2>&1
if [ -f policies_kb/__main__.py ]; then
  echo "[test] python -m policies_kb check"
  .venv/bin/python -m policies_kb check
fi
echo "[test] pytest"
exec .venv/bin/python -m pytest "$@"
