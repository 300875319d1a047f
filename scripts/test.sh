#!/usr/bin/env bash
# The whole check, as CI runs it: data validation, the knowledge base check, then every pytest test.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
echo "[test] rasa data validate"
mkdir -p var
if ! .venv/bin/rasa data validate --domain domain --data data --config config.yml >var/validate.log 2>&1; then
  grep -vE "Warning|warn\(|^\s*$" var/validate.log | tail -40
  echo "[test] rasa data validate failed (full output: var/validate.log)"
  exit 1
fi
echo "[test] python -m policies_kb check"
.venv/bin/python -m policies_kb check
echo "[test] pytest"
exec .venv/bin/python -m pytest "$@"
