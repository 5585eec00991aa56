#!/bin/sh
# make_certs.sh DIR NAME: a throwaway CA and a certificate it signs, with the openssl CLI.
# Writes DIR/NAME-ca.pem, DIR/NAME-cert.pem, DIR/NAME-key.pem. The certificate is valid
# for 127.0.0.1 and localhost, as a server and as a client.
set -eu
dir=$1
name=$2
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name test CA" \
  -keyout "$name-ca-key.pem" -out "$name-ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" \
  -keyout "$name-key.pem" -out "$name.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
  > "$name.ext"
openssl x509 -req -in "$name.csr" -CA "$name-ca.pem" -CAkey "$name-ca-key.pem" \
  -CAcreateserial -days 2 -extfile "$name.ext" -out "$name-cert.pem" 2>/dev/null
rm -f "$name.csr" "$name.ext"
