#!/usr/bin/env bash
# The one test command (README, CI): installs the system packages the e2e tests need when they are
# missing, builds the executables the e2e tests run, type-checks, checks the format (Prettier) and the
# lint rules (typescript-eslint), looks for dead code (knip: unused files, exports and dependencies),
# then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm run build --silent
npx tsc --noEmit -p .
npx prettier --check --log-level warn .
npx eslint .
npx knip --no-progress
bash scripts/node22.sh >/dev/null   # the Node 22 binary the e2e matrix also runs the checks on
npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-report.json "$@"
