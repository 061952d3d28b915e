#!/usr/bin/env bash
# A PS billing software's CI job against noemie-sim, with nothing but OpenSSH's sftp, openssl,
# curl and jq: it serves the demo network with the PS left to "your software" (this script),
# in virtual time that moves only when the script says, and plays the PS as a real one does:
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
HERE=$(pwd)

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

# 1. the connection kit of the external PS (curl retries while the network is being built)
curl -s -f --retry 300 --retry-all-errors --retry-delay 1 "$API/api/kits/ps" > kit.json \
  || { echo "serve did not start: see serve.log"; cat serve.log; exit 3; }
PS=$(jq -r .party kit.json)
CAISSE=$(jq -r '.connection.servers[0].caisse' kit.json)
PORT=$(jq -r '.connection.servers[0].port' kit.json)
cd "$(jq -r .folder kit.json)"  # everything below as the kit's README says, from its folder
echo "playing PS $PS against caisse $CAISSE (SFTP port $PORT)"

in_sftp() {  # sftp commands on stdin, run in batch mode with the kit's key and known_hosts
  sftp -q -b - -i key.pem -o UserKnownHostsFile=known_hosts -o StrictHostKeyChecking=yes \
    -o IdentitiesOnly=yes -o BatchMode=yes -P "$PORT" "$PS@127.0.0.1"
}

# 2. our certificate and the caisse's, checked with their CRLs at the real time
openssl verify -crl_check_all -CAfile root.pem -untrusted cas.pem -CRLfile crls.pem \
  -purpose any cert.pem "peers/$CAISSE.pem"

# 3. the lot, sealed at the real time (sign, then encrypt for the caisse), then uploaded:
#    written as NAME.part, published by the rename
NAME="FSE-$PS-000001.p7m"
openssl cms -sign -binary -nodetach -md sha256 -in sample-lot.b2 -signer cert.pem \
  -inkey key.pem -certfile chain.pem -outform DER -out signed.der
openssl cms -encrypt -binary -aes-256-gcm -recip "peers/$CAISSE.pem" \
  -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -in signed.der -outform DER \
  -out "$NAME"
printf 'put %s depot/%s.part\nrename depot/%s.part depot/%s\n' "$NAME" "$NAME" "$NAME" "$NAME" \
  | in_sftp
echo "uploaded $NAME"

if [ "$STOP_EARLY" = yes ]; then
  post /api/clock/advance '{"by": "1h"}' > /dev/null
  echo "stopping one simulated hour in"
  cd "$HERE" && finish
fi

fetch_all() {  # fetch, remove, open and verify every file in retour/; print each first record
  for name in $(echo 'ls -1 retour' | in_sftp | grep -o '[A-Z0-9]*-[A-Za-z0-9._-]*\.p7m'); do
    printf 'get retour/%s received.p7m\nrm retour/%s\n' "$name" "$name" | in_sftp > /dev/null
    openssl cms -decrypt -binary -inform DER -in received.p7m -inkey key.pem -recip cert.pem \
      -out received.der
    openssl cms -verify -binary -inform DER -in received.der -CAfile trust.pem \
      -certfile cas.pem -crl_check_all -purpose any -out received.txt \
      2> /dev/null
    cp received.txt "$name.txt"
    echo "fetched $name: $(head -c 60 received.txt)"
  done
}

# 4. the caisse's answer: advance the simulated clock until it sends this PS a file
post /api/clock/advance \
  "{\"until_event\": \"file-sent\", \"party\": \"$PS\", \"timeout\": \"2 days\"}" > sent.json
ARL=$(jq -r .event.details.name sent.json)
echo "the caisse sent $ARL"
if [ "$FETCH" = yes ]; then
  for _ in $(seq 30); do  # poll retour/ until the file is listed (it is, in virtual time)
    echo 'ls -1 retour' | in_sftp | grep -q "$ARL" && break
  done
  fetch_all
  # an ARL is records of 128 characters with no separator; position 40 of the first: status
  STATUS=$(cut -c40 "$ARL.txt")
  echo "ARL status: $STATUS (P positive, N negative, D duplicate)"
  [ "$STATUS" = P ] || { echo "the lot was refused:"; fold -w128 "$ARL.txt"; }
fi

# 5. a real PS polls its retour/ all day long: here every 6 simulated hours, to the end
still_6h_to_go() {
  curl -sS -f "$API/api/clock" \
    | jq -e '(.now, .end) |= (sub("\\+00:00$"; "Z") | fromdateiso8601) | .now + 6 * 3600 < .end' \
    > /dev/null
}
while still_6h_to_go; do
  post /api/clock/advance '{"by": "6h"}' > /dev/null
  if [ "$FETCH" = yes ]; then fetch_all; fi
done
post /api/clock/advance '{"to": "end"}' > /dev/null

# 6. the verdict: every check, the failed ones named; serve's exit code is the verdict's
curl -sS -f "$API/api/verdict" > verdict.json
jq -r '"verdict: \(.verdict) (exit \(.exit_code))", (.failed[] | "failed: \(.)")' verdict.json
cd "$HERE" && finish
