#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for trying the scaled-out assistant by hand (the tests start their own):
#   scripts/services.sh > /tmp/nxa-services.env &   # prints `export ...` lines, keeps both up until stopped
#   source /tmp/nxa-services.env && make run         # the assistant on endpoints.postgres.yml and PostgreSQL
#   kill %1                                          # stops both and deletes their data
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.reliability.services
