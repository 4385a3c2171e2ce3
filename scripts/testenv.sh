#!/usr/bin/env bash
# testenv.sh COMMAND [ARG...]
#
# Runs COMMAND with the integration components of the test suite running
# beside it, and stops them afterwards, whether COMMAND passes or fails.
#
# Azurite, the Azure Storage emulator, is installed with npm once per
# version into the user's cache (TIDELINE_CACHE, default
# ~/.cache/tideline) and reused from there; each run starts its blob
# service on a free port of 127.0.0.1 with its data in a temporary folder,
# and passes the blob endpoint to COMMAND as TIDELINE_AZURITE_BLOB_URL.
# Without Node.js and npm the component is left out with a warning; tests
# that need it then skip, or fail under TIDELINE_INTEGRATION=required.
#
# The exit status is COMMAND's, or non-zero when a component that could be
# installed failed to start.
set -euo pipefail

AZURITE_VERSION=3.37.0
cache_root="${TIDELINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tideline}"

log() { echo "testenv: $*" >&2; }

pids=()
tmpdirs=()
cleanup() {
	local pid dir
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
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

if [ "$#" -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

if command -v node >/dev/null && command -v npm >/dev/null; then
	start_azurite
else
	log "Node.js and npm are not on PATH: Azurite is not started, and the tests that need it skip (or fail under TIDELINE_INTEGRATION=required)"
fi

status=0
"$@" || status=$?
exit "$status"
