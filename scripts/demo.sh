#!/bin/sh
# demo.sh -- a hub and an edge with a simulated production line, on this machine.
#
# usage: sh scripts/demo.sh [BUILD_DIR]     (what `make demo` runs)
#
# Writes configs under ./demo-data/{hub,edge} (a fresh random node token
# shared by both on the first run, kept afterwards), starts mw-hub, then
# mw-edge with two simulated machines that report every second and a
# simulated camera (the worker mw-edge-vision analyses it), and a local
# action that appends every alarm to demo-data/alarms.log (no hub needed for
# that). Both listen on loopback ports the kernel picks; the daemons write
# them to DATA_DIR/hub.addr and DATA_DIR/edge.addr. Prints where to look,
# then waits; Ctrl-C stops both cleanly. Data is kept between runs, so a
# second run shows the chain carrying on where it stopped.
set -u

build=${1:-build}
bin="$build/bin"
demo="$(pwd)/demo-data"
here=$(cd "$(dirname "$0")" && pwd)
hub_pid=""
edge_pid=""
# A simulation seed whose machine 1 overheats early: its first alarm comes
# about 100 s after the start (a rise of 20 C takes that long).
sim_seed=18422

die() {
	echo "demo: $*" >&2
	exit 1
}

for p in mw-hub mw-edge mw-edge-vision mw-scene; do
	[ -x "$bin/$p" ] || die "$bin/$p not found; build first (make build)"
done
bin=$(cd "$bin" && pwd)

random_hex() {
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# Reads the address a daemon writes once it listens; waits up to 30 s.
wait_addr() {
	file=$1
	pid=$2
	name=$3
	i=0
	while [ $i -lt 300 ]; do
		if [ -s "$file" ]; then
			cat "$file"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || {
			echo "demo: $name exited at start; last lines of its log:" >&2
			tail -n 20 "$demo/$name.log" >&2
			return 1
		}
		sleep 0.1
		i=$((i + 1))
	done
	echo "demo: $name wrote no $file within 30 s" >&2
	return 1
}

# Stops both daemons (SIGTERM, then waits for them); exits with $1 (0).
stop() {
	code=${1:-0}
	trap - INT TERM
	echo
	echo "demo: stopping mw-edge and mw-hub ..."
	for pid in $edge_pid $hub_pid; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $edge_pid $hub_pid; do
		wait "$pid" 2>/dev/null
	done
	echo "demo: stopped. Data kept in $demo (remove it to start afresh)."
	exit "$code"
}

mkdir -p "$demo/hub/data" "$demo/edge/data" || die "cannot create $demo"
[ -s "$demo/node.token" ] || random_hex >"$demo/node.token"
[ -s "$demo/api.token" ] || random_hex >"$demo/api.token"
node_token=$(cat "$demo/node.token")
api_token=$(cat "$demo/api.token")
rm -f "$demo/hub/data/hub.addr" "$demo/edge/data/edge.addr"

cat >"$demo/hub/hub.yaml" <<EOF
# mw-hub demo config, written by scripts/demo.sh
listen: "127.0.0.1:0"
tls:
  mode: off        # plain HTTP, allowed on loopback only (docs/security.md)
data_dir: "$demo/hub/data"
nodes:
  demo-edge: "$node_token"
EOF

trap stop INT TERM

# setsid: each daemon in a session of its own, so Ctrl-C reaches only this
# script, which stops the edge first and then the hub.
setsid "$bin/mw-hub" --config "$demo/hub/hub.yaml" >>"$demo/hub.log" 2>&1 </dev/null &
hub_pid=$!
hub_addr=$(wait_addr "$demo/hub/data/hub.addr" "$hub_pid" hub) || stop 1
hub_url="http://$hub_addr"

# The hub has users: the first start makes the admin "demo" with the
# one-time bootstrap token the hub writes; later starts log in again. The
# session stays in $demo/credentials (the file `mw` reads), and a viewer
# API token serves the curl lines below.
export MW_CREDENTIALS="$demo/credentials"
[ -s "$demo/admin.password" ] || (umask 077 && random_hex >"$demo/admin.password")
if [ -s "$demo/hub/data/bootstrap.token" ]; then
	"$bin/mw" --hub "$hub_url" login --user demo --password-stdin \
		--bootstrap "$(cat "$demo/hub/data/bootstrap.token")" <"$demo/admin.password"
else
	"$bin/mw" --hub "$hub_url" login --user demo --password-stdin <"$demo/admin.password"
fi >>"$demo/hub.log" 2>&1 || die "cannot log in to the demo hub; see $demo/hub.log"
view_token=$("$bin/mw" tokens create demo-curl --role viewer --ttl 1d 2>>"$demo/hub.log") ||
	die "cannot make an API token; see $demo/hub.log"

cat >"$demo/edge/edge.yaml" <<EOF
# mw-edge demo config, written by scripts/demo.sh
node:
  id: demo-edge
data_dir: "$demo/edge/data"
api:
  listen: "127.0.0.1:0"
  token: "$api_token"
uplink:
  hub_url: "$hub_url"
  token: "$node_token"
actions:
  webhook: ""
  min_severity: alarm
  command: 'printf "%s\n" "\$MW_EVENT" >> "$demo/alarms.log"'
sim:
  enabled: true
  machines: 2
  interval: 1s
  seed: $sim_seed
cameras:
  - id: demo-cam
    url: "sim://conveyor?fps=15&people_per_min=2&defect_rate=0.1&seed=$sim_seed"
    zones:
      - name: robot-cell
        polygon: [[742, 497], [1075, 497], [1126, 684], [691, 684]]
        severity: alarm
    count:
      line: [[853, 267], [853, 453]]
      codes: datamatrix
    inspection:
      roi: [344, 304, 166, 112]
EOF

# The simulated camera films a conveyor (parts with serial codes, some
# defective) beside a danger zone people walk into. Its inspection needs a
# model of good parts: learned once, from a clip of the same simulated line
# with no defects, and kept in the edge's data dir.
if [ ! -s "$demo/edge/data/models/demo-cam.model" ]; then
	echo "demo: teaching the camera's inspection what a good part looks like (once) ..."
	"$bin/mw-scene" --seconds 60 --fps 15 --seed 99 --defect-rate 0 --people-per-min 0 \
		--noise 2 --out "$demo/good-parts.mp4" >>"$demo/edge.log" 2>&1 &&
		"$bin/mw-edge" train --config "$demo/edge/edge.yaml" --camera demo-cam \
			"$demo/good-parts.mp4" >>"$demo/edge.log" 2>&1 ||
		die "training the demo camera failed; see $demo/edge.log"
fi

setsid "$bin/mw-edge" --config "$demo/edge/edge.yaml" >>"$demo/edge.log" 2>&1 </dev/null &
edge_pid=$!
edge_addr=$(wait_addr "$demo/edge/data/edge.addr" "$edge_pid" edge) || stop 1
edge_url="http://$edge_addr"

# An app from the catalog, deployed to the edge the way a user would: it
# posts a line.tick event every 20 s through the edge's API. The edge
# picks it up at its next heartbeat (10 s). Added once; deployed each run.
"$bin/mw" apps add "$here/demo-app.yaml" >>"$demo/hub.log" 2>&1 || true
"$bin/mw" deploy line-ticker@1.0 --to demo-edge --set interval=20 >>"$demo/hub.log" 2>&1 ||
	echo "demo: deploying the demo app failed; see $demo/hub.log" >&2

cat <<EOF

Millwright demo is running: one hub, one edge (node "demo-edge") with two
simulated machines reporting every second and a simulated camera (demo-cam)
over a conveyor: every part counted with its serial code, defective parts
flagged with a snapshot, people entering the robot cell raise an alarm.

  hub          $hub_url
  edge API     $edge_url   (token: $api_token)
  logs         $demo/hub.log  $demo/edge.log
  local alarms $demo/alarms.log   (written by the edge itself, hub or no hub)

Anomalies (severity warning) show up within a minute; the first alarm, a machine
overheating past 80 C, after about two minutes.

Where to look:

  export MW_CREDENTIALS=$demo/credentials   # you are logged in as admin "demo"
  $bin/mw events --severity alarm
  $bin/mw events --kind part.counted --limit 5
  $bin/mw nodes
  $bin/mw apps; $bin/mw rollouts; $bin/mw nodes show demo-edge   (app line-ticker)
  $bin/mw events --kind line.tick --follow                   (the app's events)
  $bin/mw users; $bin/mw audit
  curl -s -H 'Authorization: Bearer $view_token' '$hub_url/v1/events?kind=zone.intrusion&limit=5'
  curl -s -H 'Authorization: Bearer $view_token' -o snapshot.jpg $hub_url/v1/blobs/HASH
                                                   (HASH from an event's blobs)
  curl -s $hub_url/metrics
  curl -s -H 'Authorization: Bearer $api_token' $edge_url/v1/status
  tail -f $demo/alarms.log

Try an outage: kill -STOP $hub_pid (the edge keeps recording and alarming),
then kill -CONT $hub_pid and watch /v1/nodes catch up.

Press Ctrl-C to stop both.
EOF

while kill -0 "$hub_pid" 2>/dev/null && kill -0 "$edge_pid" 2>/dev/null; do
	sleep 1
done
echo "demo: a daemon exited on its own; see $demo/hub.log and $demo/edge.log" >&2
stop 1
