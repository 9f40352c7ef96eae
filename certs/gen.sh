#!/usr/bin/env bash
# gen.sh: generates the development key material for the controller and the agent
# simulator (a dev fleet CA, agent server certs, the controller's client cert and the
# broken certs the tests need). Never use these files in production; see certs/README.md.
#
# Usage: certs/gen.sh OUTDIR [NODE_COUNT]
#
# Node i (0-based, i < NODE_COUNT) listens on 127.0.$((1 + i / 250)).$((1 + i % 250)),
# so NODE_COUNT <= 4000 stays inside 127.0.1.1 .. 127.0.16.250. The agent certs name all
# of those addresses so that one certificate serves the whole simulated fleet.
set -euo pipefail

readonly MAX_NODES=4000
readonly DAYS=3650

die() {
	echo "gen.sh: $*" >&2
	exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || die "usage: certs/gen.sh OUTDIR [NODE_COUNT]"
outdir=$1
nodes=${2:-256}
[[ $nodes =~ ^[1-9][0-9]*$ ]] || die "NODE_COUNT must be a positive integer, got '$nodes'"
((nodes <= MAX_NODES)) || die "NODE_COUNT must be at most $MAX_NODES, got $nodes"

outputs=(ca.pem ca.key agent.pem client.crt client.key other-ca.pem other-ca.key
	agent-otherca.pem agent-wrongname.pem agent-expired.pem)

# Idempotent: the marker is written last, so a run that was interrupted regenerates.
if [[ -f $outdir/.nodes ]]; then
	have=$(<"$outdir/.nodes")
	complete=1
	for f in "${outputs[@]}"; do
		[[ -f $outdir/$f ]] || complete=0
	done
	if ((complete)) && [[ $have =~ ^[0-9]+$ ]] && ((have >= nodes)); then
		exit 0
	fi
fi

command -v openssl >/dev/null || die "openssl not found"
mkdir -p "$outdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cmdb-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077

# One private key (EC P-256: fast to generate, accepted everywhere TLS 1.2 is).
newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null
}

serial() {
	echo "0x$(openssl rand -hex 16)"
}

# Self-signed CA: $1 key, $2 cert, $3 common name.
make_ca() {
	newkey "$1"
	openssl req -x509 -new -key "$1" -out "$2" -days "$DAYS" -subj "/CN=$3" \
		-set_serial "$(serial)" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# Extension file for a leaf: $1 file, $2 extendedKeyUsage, $3 "nodes" or a literal SAN.
write_ext() {
	local i
	{
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature"
		echo "extendedKeyUsage = $2"
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid"
		if [[ $3 == nodes ]]; then
			echo "subjectAltName = @alt"
			echo "[alt]"
			echo "DNS.1 = localhost"
			echo "IP.1 = 127.0.0.1"
			for ((i = 0; i < nodes; i++)); do
				echo "IP.$((i + 2)) = 127.0.$((1 + i / 250)).$((1 + i % 250))"
			done
		elif [[ -n $3 ]]; then
			echo "subjectAltName = $3"
		fi
	} >"$1"
}

# Leaf signed by a CA: $1 name (temp file stem), $2 CA cert, $3 CA key, $4 subject CN,
# $5 extension file. Leaves $tmp/$1.key and $tmp/$1.crt.
sign_leaf() {
	newkey "$tmp/$1.key"
	openssl req -new -key "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$4" 2>/dev/null
	openssl x509 -req -in "$tmp/$1.csr" -CA "$2" -CAkey "$3" -set_serial "$(serial)" \
		-days "$DAYS" -sha256 -extfile "$5" -out "$tmp/$1.crt" 2>/dev/null
}

# Expired leaf: "openssl x509 -req" of OpenSSL 3.0 cannot set dates in the past, so this
# goes through "openssl ca" with a throwaway configuration.
sign_expired() {
	local cfg=$tmp/ca.cnf
	mkdir -p "$tmp/ca.db"
	: >"$tmp/ca.db/index.txt"
	openssl rand -hex 16 >"$tmp/ca.db/serial"
	cat >"$cfg" <<-EOF
		[ca]
		default_ca = dev
		[dev]
		dir = $tmp/ca.db
		database = \$dir/index.txt
		new_certs_dir = \$dir
		serial = \$dir/serial
		default_md = sha256
		policy = anything
		unique_subject = no
		copy_extensions = none
		[anything]
		commonName = supplied
	EOF
	newkey "$tmp/expired.key"
	openssl req -new -key "$tmp/expired.key" -out "$tmp/expired.csr" \
		-subj "/CN=cmdb agent (expired)" 2>/dev/null
	openssl ca -batch -notext -config "$cfg" -cert "$tmp/ca.pem" -keyfile "$tmp/ca.key" \
		-in "$tmp/expired.csr" -out "$tmp/expired.crt" -extfile "$tmp/server.ext" \
		-startdate 20200101000000Z -enddate 20210101000000Z >/dev/null 2>&1
}

make_ca "$tmp/ca.key" "$tmp/ca.pem" "cmdb dev fleet CA"
make_ca "$tmp/other-ca.key" "$tmp/other-ca.pem" "unrelated dev CA"

write_ext "$tmp/server.ext" serverAuth nodes
write_ext "$tmp/client.ext" clientAuth ""
write_ext "$tmp/wrongname.ext" serverAuth "DNS:wrong.invalid"

sign_leaf agent "$tmp/ca.pem" "$tmp/ca.key" "cmdb agent" "$tmp/server.ext"
sign_leaf client "$tmp/ca.pem" "$tmp/ca.key" "cmdb-controller" "$tmp/client.ext"
sign_leaf otherca "$tmp/other-ca.pem" "$tmp/other-ca.key" "cmdb agent" "$tmp/server.ext"
sign_leaf wrongname "$tmp/ca.pem" "$tmp/ca.key" "wrong.invalid" "$tmp/wrongname.ext"
sign_expired

# civetweb reads certificate and key from one file.
cat "$tmp/agent.crt" "$tmp/agent.key" >"$tmp/agent.pem"
cat "$tmp/otherca.crt" "$tmp/otherca.key" >"$tmp/agent-otherca.pem"
cat "$tmp/wrongname.crt" "$tmp/wrongname.key" >"$tmp/agent-wrongname.pem"
cat "$tmp/expired.crt" "$tmp/expired.key" >"$tmp/agent-expired.pem"
# agentsim mints its per-node certificates with both CA keys.
cp "$tmp/client.crt" "$tmp/client.key" "$tmp/ca.key" "$tmp/other-ca.key" "$tmp"/agent*.pem \
	"$outdir/"
cp "$tmp/ca.pem" "$tmp/other-ca.pem" "$outdir/"
chmod 600 "$outdir/ca.key" "$outdir/other-ca.key" "$outdir/client.key" "$outdir"/agent*.pem
chmod 644 "$outdir/ca.pem" "$outdir/other-ca.pem" "$outdir/client.crt"
echo "$nodes" >"$outdir/.nodes"

last=$((nodes - 1))
echo "gen.sh: wrote dev CA and certs for $nodes nodes" \
	"(127.0.1.1 .. 127.0.$((1 + last / 250)).$((1 + last % 250))) to $outdir"
