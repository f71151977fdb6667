#!/usr/bin/env bash
# Makes the certificates the TLS tests use, with the openssl CLI, in DIR (a
# test's temporary directory: private keys are never committed):
#   ca.pem/ca.key                  the test CA
#   server.pem/server.key          for localhost and 127.0.0.1, signed by ca
#   client.pem/client.key          a client certificate signed by ca
#   other_ca.pem                   an unrelated CA
#   other_client.pem/.key          a client certificate signed by other_ca
#   server_encrypted.key           server.key under a passphrase
# Usage: make_test_certs.sh DIR
set -euo pipefail

dir="$1"
mkdir -p "$dir"
cd "$dir"

# A config of our own, so the system's openssl.cnf changes nothing.
cat >openssl.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF

newkey() {  # newkey FILE: an EC P-256 key (fast to make)
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

ca() {  # ca NAME CN
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -config openssl.cnf -extensions ca_ext
}

leaf() {  # leaf NAME CN EXTENSIONS CA
  newkey "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" -config openssl.cnf
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -out "$1.pem" \
    -extfile openssl.cnf -extensions "$3" 2>/dev/null
  rm -f "$1.csr"
}

ca ca "Impulse Test CA"
ca other_ca "Some Other CA"
leaf server localhost server_ext ca
leaf client test-client client_ext ca
leaf other_client stranger client_ext other_ca
openssl pkey -in server.key -out server_encrypted.key -aes256 -passout pass:secret
chmod 600 ./*.key
