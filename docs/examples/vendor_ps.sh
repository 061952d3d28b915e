#!/usr/bin/env bash
# A PS billing software's CI job against noemie-sim, with nothing but OpenSSH's sftp, openssl,
# curl and jq: it serves the demo network with the PS left to "your software" (this script),
# in virtual time that moves only when the script says, and plays the PS (ps_party.sh, beside
# it) as a real one does:
# checks its certificates and their CRLs at the real time, seals a lot with openssl, uploads
# it over SFTP, waits for the caisse's ARL, polls its retour/ over SFTP, fetches and removes
# every file, opens and verifies each one (CRLs included) and reads what it says; then it runs
# the network to its end and exits with serve's exit code, the verdict:
#   0 your PS conforms and the network's checks pass, 1 a check failed (named in the log),
#   2 bad input, 3 the run was stopped before its end (never a pass).
#
# Settings (environment): NOEMIE_SIM (the command, default noemie-sim), API_PORT (8750),
# SFTP_PORT (2222: the caisse's SFTP server), RUN (the run folder, serve-run), and two
# variants a CI of noemie-sim itself runs: FETCH=no never fetches (exit 1, the check
# conformance.<PS>.files-fetched fails), STOP_EARLY=yes stops one simulated hour in (exit 3).
set -euo pipefail

NOEMIE_SIM=${NOEMIE_SIM:-noemie-sim}
API_PORT=${API_PORT:-8750}
SFTP_PORT=${SFTP_PORT:-2222}
RUN=${RUN:-serve-run}
FETCH=${FETCH:-yes}
STOP_EARLY=${STOP_EARLY:-no}
API="http://127.0.0.1:$API_PORT"

"$NOEMIE_SIM" serve demo --external ps --web --virtual --port "$API_PORT" \
  --sftp-port "$SFTP_PORT" --out "$RUN" > serve.log 2>&1 &
SERVE=$!
# if this script fails half way, serve is stopped too (SIGTERM: it closes the run cleanly)
trap 'kill "$SERVE" 2> /dev/null || true' EXIT

post() {  # POST a JSON body to the API: the answer on stdout; fails on an error status
  curl -sS -f -X POST -H 'Content-Type: application/json' --data "$2" "$API$1"
}
finish() {  # stop serving and exit with serve's exit code: the verdict
  post /api/stop '{}' > /dev/null
  set +e
  wait "$SERVE"
  code=$?
  echo "serve exited with $code"
  exit "$code"
}

# 1-5. the PS plays its part (ps_party.sh: kit, certificates, seal, upload, ARL, every file
#      fetched and opened, every 6 simulated hours to the run's end)
NOEMIE_SIM_API=$API NOEMIE_SIM_PARTY=ps FETCH=$FETCH STOP_EARLY=$STOP_EARLY \
  bash "$(dirname "$0")/ps_party.sh" \
  || { echo "the PS failed: serve's log follows"; cat serve.log; exit 3; }
if [ "$STOP_EARLY" = yes ]; then finish; fi

# 6. the verdict: every check, the failed ones named; serve's exit code is the verdict's
curl -sS -f "$API/api/verdict" > verdict.json
jq -r '"verdict: \(.verdict) (exit \(.exit_code))", (.failed[] | "failed: \(.)")' verdict.json
finish
