#!/bin/bash
# certroll lab: generate the original (about to expire) TOS-like PKI with openssl.
# usage: gen-pki.sh OUTDIR   env: ETCD_SANS API_SANS DAYS SERVER TOS_FIXTURES (the dir of the Manager's config.json and etcd-csr.json)
set -euo pipefail
out=$1
cd "$out"
umask 077
mkdir -p srv-kubernetes srv-kubernetes/ssl ca-key gencerts
cat > openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[etcd_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${ENV::ETCD_SANS}
[api_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${ENV::API_SANS}
[client_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
base="/C=CN/ST=Shanghai/L=Shanghai/O=k8s/OU=System"
# RSA keys take most of the time: make all five at once.
for k in etcd-ca etcd ca apiserver admin; do openssl genrsa -out "$k-key.pem" 2048 2>/dev/null & done
wait
ca() { # name subject days
  openssl req -x509 -new -config openssl.cnf -extensions v3_ca -key "$1-key.pem" -sha256 -days "$3" -subj "$2" \
    -set_serial "0x$(openssl rand -hex 16)" -out "$1.pem"
}
leaf() { # name subject days ca ext
  openssl req -new -config openssl.cnf -key "$1-key.pem" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4-key.pem" -set_serial "0x$(openssl rand -hex 16)" -sha256 \
    -days "$3" -extfile openssl.cnf -extensions "$5" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}
ca etcd-ca "$base/CN=etcd-ca" "$DAYS"
leaf etcd "$base/CN=etcd" "$((DAYS - 1))" etcd-ca etcd_leaf
ca ca "$base/CN=kubernetes" 3650
leaf apiserver "$base/CN=kubernetes" 3650 ca api_leaf
leaf admin "/C=CN/ST=Shanghai/L=Shanghai/O=system:masters/OU=System/CN=admin" 3650 ca client_leaf
mv etcd-ca.pem etcd.pem etcd-key.pem ca.pem apiserver.pem apiserver-key.pem srv-kubernetes/
mv etcd-ca-key.pem ca-key/
cp admin.pem srv-kubernetes/ssl/admin.pem
cp srv-kubernetes/ca.pem srv-kubernetes/ssl/ca.pem
echo "$(openssl rand -hex 16),admin,admin,\"system:masters\"" > srv-kubernetes/token.csv
cat > srv-kubernetes/kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /srv/kubernetes/ca.pem
    server: $SERVER
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: admin
  name: admin@kubernetes
current-context: admin@kubernetes
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 admin.pem)
    client-key-data: $(base64 -w0 admin-key.pem)
EOF
rm -f admin.pem admin-key.pem ca-key.pem openssl.cnf
chmod 0644 srv-kubernetes/*.pem srv-kubernetes/ssl/*.pem srv-kubernetes/kubeconfig
chmod 0600 srv-kubernetes/etcd-key.pem srv-kubernetes/apiserver-key.pem srv-kubernetes/token.csv ca-key/etcd-ca-key.pem
chmod 0755 srv-kubernetes srv-kubernetes/ssl
cp srv-kubernetes/etcd-ca.pem gencerts/etcd-ca.pem
cp "$TOS_FIXTURES/config.json" "$TOS_FIXTURES/etcd-csr.json" gencerts/
chmod 0755 gencerts
chmod 0644 gencerts/*
