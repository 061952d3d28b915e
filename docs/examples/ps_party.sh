#!/usr/bin/env bash
# A PS billing software's side, with nothing but OpenSSH's sftp, openssl, curl and jq, against
# a network that noemie-sim serves in virtual time (serve --web --virtual, or a campaign run
# with --external ps --command): it checks its certificates and their CRLs at the real time,
# seals a lot with openssl, uploads it over SFTP, waits for the caisse's ARL, polls its retour/
# over SFTP, fetches and removes every file, opens and verifies each one (CRLs included) and
# reads what it says, every 6 simulated hours until the run's end. It exits 0 once the run is
# at its end: the verdict is serve's (vendor_ps.sh) or the campaign's, not this script's.
#
# Environment: NOEMIE_SIM_API (the API's address, http://127.0.0.1:PORT; set by a campaign),
# NOEMIE_SIM_PARTY (the PS: its id, or ps for the first external PS; set by a campaign), and
# two variants the test suite runs: FETCH=no never fetches (its conformance check
# files-fetched fails), STOP_EARLY=yes stops one simulated hour in.
set -euo pipefail

API=${NOEMIE_SIM_API:?NOEMIE_SIM_API: the address of noemie-sim serve --web}
WHO=${NOEMIE_SIM_PARTY:-ps}
FETCH=${FETCH:-yes}
STOP_EARLY=${STOP_EARLY:-no}

post() {  # POST a JSON body to the API: the answer on stdout; fails on an error status
  curl -sS -f -X POST -H 'Content-Type: application/json' --data "$2" "$API$1"
}

# 1. the connection kit of the external PS (curl retries while the network is being built)
KIT=$(curl -s -f --retry 300 --retry-all-errors --retry-delay 1 "$API/api/kits/$WHO") \
  || { echo "no kit for $WHO at $API"; exit 3; }
PS=$(jq -r .party <<< "$KIT")
CAISSE=$(jq -r '.connection.servers[0].caisse' <<< "$KIT")
PORT=$(jq -r '.connection.servers[0].port' <<< "$KIT")
cd "$(jq -r .folder <<< "$KIT")"  # everything below as the kit's README says, from its folder
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
  exit 0
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
echo "the run is at its end"
