#!/usr/bin/env bash
# testenv.sh COMMAND [ARG...]
#
# Runs COMMAND with the integration components of the test suite running
# beside it, and stops them afterwards, whether COMMAND passes or fails.
# Everything is installed once per version into the user's cache
# (TIDELINE_CACHE, default ~/.cache/tideline) and reused from there; each
# run starts its own servers on free ports of 127.0.0.1 with their data in
# temporary folders, so that parallel runs and a developer's own servers do
# not collide.
#
# Azurite, the Azure Storage emulator, is installed with npm. Its blob
# endpoint is passed to COMMAND as TIDELINE_AZURITE_BLOB_URL. Without
# Node.js and npm it is left out with a warning.
#
# A Kubernetes API server: etcd and kube-apiserver, built with the go
# command from the wrapper modules in scripts/kube/etcd and
# scripts/kube/apiserver, whose go.mod and go.sum pin their versions. No
# scheduler, controller manager or kubelet runs: objects are stored and
# validated, never acted on. Authentication is by bearer tokens, fresh and
# random on every run, authorization by RBAC. COMMAND receives
#
#	TIDELINE_KUBE_URL           https://127.0.0.1:PORT
#	TIDELINE_KUBE_CA_FILE       the certificate to verify the server with
#	TIDELINE_KUBE_ADMIN_TOKEN   a member of system:masters
#	TIDELINE_KUBE_USER_TOKEN    the user tideline-provider, in no group
#	TIDELINE_KUBE_NOBODY_TOKEN  the user tideline-nobody, bound to nothing
#
# Without the go command it is left out with a warning.
#
# Tests that need a component that was left out skip, or fail under
# TIDELINE_INTEGRATION=required.
#
# The exit status is COMMAND's, or non-zero when a component that could be
# installed failed to install or start.
set -euo pipefail

AZURITE_VERSION=3.37.0
cache_root="${TIDELINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tideline}"
kube_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/kube" && pwd)"

log() { echo "testenv: $*" >&2; }

pids=()
tmpdirs=()

# stop_pid stops the process $1 that this script started and forgets it,
# so that the cleanup never signals a process id the system has reused. A
# process still running 5 seconds after SIGTERM gets SIGKILL: the servers'
# data is thrown away anyway, and a run must not hang on a server that
# waits for another one already gone.
stop_pid() {
	local pid=$1 i timer kept=()
	kill "$pid" 2>/dev/null || true
	(
		trap 'kill "$nap" 2>/dev/null; exit 0' TERM
		sleep 5 &
		nap=$!
		wait "$nap"
		kill -KILL "$pid" 2>/dev/null
	) >/dev/null 2>&1 &
	timer=$!
	wait "$pid" 2>/dev/null || true
	kill "$timer" 2>/dev/null || true
	wait "$timer" 2>/dev/null || true
	for i in "${pids[@]}"; do
		if [ "$i" != "$pid" ]; then
			kept+=("$i")
		fi
	done
	pids=("${kept[@]}")
}

# cleanup stops the processes in the reverse order of their start (the API
# server before its etcd) and removes the temporary folders.
cleanup() {
	local i dir
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[i]}"
	done
	for dir in "${tmpdirs[@]}"; do
		rm -rf "$dir"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# install_azurite prints the directory holding node_modules/.bin/azurite-blob,
# installing the pinned version first when the cache does not hold it. The
# install goes to a temporary folder that is renamed into place at the end,
# so an interrupted install never looks complete.
install_azurite() {
	local dir="$cache_root/azurite-$AZURITE_VERSION"
	if [ -x "$dir/node_modules/.bin/azurite-blob" ]; then
		echo "$dir"
		return
	fi
	mkdir -p "$cache_root"
	local tmp
	tmp="$(mktemp -d "$cache_root/.azurite-$AZURITE_VERSION.XXXXXX")"
	tmpdirs+=("$tmp")
	log "installing azurite $AZURITE_VERSION into $dir (once; about a minute)"
	(cd "$tmp" && npm install --no-audit --no-fund --no-save --loglevel=error "azurite@$AZURITE_VERSION" >&2)
	if [ ! -x "$tmp/node_modules/.bin/azurite-blob" ]; then
		log "npm installed azurite $AZURITE_VERSION without node_modules/.bin/azurite-blob"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
	echo "$dir"
}

# free_port prints a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# listening reports whether something accepts connections on 127.0.0.1:$1.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_azurite starts the blob service and exports its endpoint. A port
# taken between choosing and binding it makes Azurite exit; it is then
# started again on another port.
start_azurite() {
	local dir data port pid attempt i
	dir="$(install_azurite)"
	data="$(mktemp -d "${TMPDIR:-/tmp}/tideline-azurite.XXXXXX")"
	tmpdirs+=("$data")
	for attempt in 1 2 3; do
		port="$(free_port)"
		"$dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
			--location "$data" --silent --skipApiVersionCheck >"$data/azurite.log" 2>&1 &
		pid=$!
		pids+=("$pid")
		for i in $(seq 1 300); do
			if listening "$port"; then
				export TIDELINE_AZURITE_BLOB_URL="http://127.0.0.1:$port/devstoreaccount1"
				log "azurite $AZURITE_VERSION (pid $pid) serves blobs at $TIDELINE_AZURITE_BLOB_URL"
				return
			fi
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		log "azurite did not listen on port $port (attempt $attempt); its output:"
		cat "$data/azurite.log" >&2 || true
	done
	return 1
}

# module_version prints the version of module $2 that the go.mod in
# directory $1 requires.
module_version() {
	local mod=$1 path=$2 first version rest
	while read -r first version rest; do
		if [ "$first" = "$path" ]; then
			echo "$version"
			return
		fi
	done <"$mod/go.mod"
	log "$mod/go.mod does not require $path"
	return 1
}

# build_cached NAME VERSION MODULE_DIR PACKAGE ESTIMATE [GO_BUILD_FLAG...]
# builds PACKAGE of the wrapper module in MODULE_DIR into
# $cache_root/NAME-VERSION/NAME unless the cache holds it already, and sets
# built to that path. It runs in the script's own shell (not in a command
# substitution) so that the cleanup knows its temporary folder and its
# progress ticker. The build goes to a temporary folder that is renamed into
# place at the end, so an interrupted build never looks complete; when a
# parallel run finished first, its binary is kept.
built=
build_cached() {
	local name=$1 version=$2 module=$3 pkg=$4 estimate=$5
	shift 5
	local dir="$cache_root/$name-$version" tmp start ticker status=0
	built="$dir/$name"
	if [ -x "$built" ]; then
		return
	fi
	mkdir -p "$cache_root"
	tmp="$(mktemp -d "$cache_root/.$name-$version.XXXXXX")"
	tmpdirs+=("$tmp")
	log "building $name $version once into $dir; about $estimate"
	start=$SECONDS
	(
		trap 'kill "$nap" 2>/dev/null; exit 0' TERM
		minutes=0
		while :; do
			sleep 60 >/dev/null 2>&1 &
			nap=$!
			wait "$nap"
			minutes=$((minutes + 1))
			log "still building $name $version ($minutes min so far)"
		done
	) &
	ticker=$!
	pids+=("$ticker")
	(cd "$module" && GOWORK=off go build -mod=readonly -buildvcs=false "$@" -o "$tmp/$name" "$pkg") >&2 || status=$?
	stop_pid "$ticker"
	if [ "$status" -ne 0 ] || [ ! -x "$tmp/$name" ]; then
		log "building $name $version failed (go build exit status $status)"
		return 1
	fi
	if [ ! -x "$built" ]; then
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	log "built $name $version in $((SECONDS - start)) s"
}

# wait_ready waits up to $3 seconds for the URL $2 to answer 200 with the
# CA file $4 and bearer token $5 (both optional), while process $1 lives.
# It uses the prep helper's probe, so curl is not needed.
wait_ready() {
	local pid=$1 url=$2 seconds=$3 ca=${4:-} token=${5:-} i
	for i in $(seq 1 $((seconds * 10))); do
		if "$kubeprep" probe "$url" "$ca" "$token" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# start_kube builds etcd and kube-apiserver when the cache lacks them,
# starts both and exports the TIDELINE_KUBE_* variables. A port taken
# between choosing and binding it makes a server exit; both are then
# started again on other ports.
start_kube() {
	local kube_version etcd_version apiserver etcd run attempt ports
	local etcd_port peer_port api_port etcd_pid api_pid admin user nobody
	kube_version="$(module_version "$kube_dir/apiserver" k8s.io/kubernetes)"
	etcd_version="$(module_version "$kube_dir/etcd" go.etcd.io/etcd/server/v3)"

	run="$(mktemp -d "${TMPDIR:-/tmp}/tideline-kube.XXXXXX")"
	tmpdirs+=("$run")
	# The helper is small and uses the standard library alone; building it
	# every run keeps it in step with its source (the build cache makes that
	# about a second).
	(cd "$kube_dir/apiserver" && GOWORK=off go build -mod=readonly -buildvcs=false -o "$run/kubeprep" ./kubeprep) >&2
	kubeprep="$run/kubeprep"

	build_cached etcd "$etcd_version" "$kube_dir/etcd" go.etcd.io/etcd/server/v3 "a minute"
	etcd="$built"
	local v=k8s.io/component-base/version
	local minor=${kube_version#v*.}
	minor=${minor%%.*}
	build_cached kube-apiserver "$kube_version" "$kube_dir/apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
		"6 minutes on 2 cores" \
		-ldflags "-s -w -X $v.gitVersion=$kube_version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
	apiserver="$built"

	"$kubeprep" keys "$run"
	admin="$("$kubeprep" token)"
	user="$("$kubeprep" token)"
	nobody="$("$kubeprep" token)"
	{
		echo "$admin,tideline-admin,tideline-admin,system:masters"
		echo "$user,tideline-provider,tideline-provider"
		echo "$nobody,tideline-nobody,tideline-nobody"
	} >"$run/tokens.csv"
	chmod 600 "$run/tokens.csv"

	for attempt in 1 2 3; do
		rm -rf "$run/etcd" "$run/certs"
		mkdir -p "$run/certs"
		ports=($("$kubeprep" ports 3))
		etcd_port=${ports[0]} peer_port=${ports[1]} api_port=${ports[2]}

		"$etcd" --name tideline --data-dir "$run/etcd" \
			--listen-client-urls "http://127.0.0.1:$etcd_port" \
			--advertise-client-urls "http://127.0.0.1:$etcd_port" \
			--listen-peer-urls "http://127.0.0.1:$peer_port" \
			--initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
			--initial-cluster "tideline=http://127.0.0.1:$peer_port" \
			--unsafe-no-fsync --log-level warn >"$run/etcd.log" 2>&1 &
		etcd_pid=$!
		pids+=("$etcd_pid")
		if ! wait_ready "$etcd_pid" "http://127.0.0.1:$etcd_port/health" 60; then
			log "etcd $etcd_version did not become healthy on port $etcd_port (attempt $attempt); its output:"
			tail -n 30 "$run/etcd.log" >&2 || true
			stop_pid "$etcd_pid"
			continue
		fi

		"$apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
			--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
			--secure-port "$api_port" \
			--cert-dir "$run/certs" --token-auth-file "$run/tokens.csv" \
			--authorization-mode RBAC \
			--service-account-issuer https://kubernetes.default.svc \
			--service-account-key-file "$run/sa.pub" \
			--service-account-signing-key-file "$run/sa.key" \
			--service-cluster-ip-range 10.0.0.0/24 \
			--disable-admission-plugins ServiceAccount >"$run/kube-apiserver.log" 2>&1 &
		api_pid=$!
		pids+=("$api_pid")
		if wait_ready "$api_pid" "https://127.0.0.1:$api_port/readyz" 120 "$run/certs/apiserver.crt" "$admin"; then
			export TIDELINE_KUBE_URL="https://127.0.0.1:$api_port"
			export TIDELINE_KUBE_CA_FILE="$run/certs/apiserver.crt"
			export TIDELINE_KUBE_ADMIN_TOKEN="$admin"
			export TIDELINE_KUBE_USER_TOKEN="$user"
			export TIDELINE_KUBE_NOBODY_TOKEN="$nobody"
			log "kube-apiserver $kube_version (pid $api_pid) on etcd $etcd_version (pid $etcd_pid) serves $TIDELINE_KUBE_URL"
			return
		fi
		log "kube-apiserver $kube_version did not become ready on port $api_port (attempt $attempt); its output:"
		tail -n 30 "$run/kube-apiserver.log" >&2 || true
		stop_pid "$api_pid"
		stop_pid "$etcd_pid"
	done
	return 1
}

if [ "$#" -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

if command -v node >/dev/null && command -v npm >/dev/null; then
	start_azurite
else
	log "Node.js and npm are not on PATH: Azurite is not started, and the tests that need it skip (or fail under TIDELINE_INTEGRATION=required)"
fi

if command -v go >/dev/null; then
	start_kube
else
	log "the go command is not on PATH: etcd and kube-apiserver are not built or started, and the tests that need them skip (or fail under TIDELINE_INTEGRATION=required)"
fi

status=0
"$@" || status=$?
exit "$status"
