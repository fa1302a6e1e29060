"""bench_forward.py -- how fast an edge catches up with its hub after an outage.

usage: python3 bench/bench_forward.py BUILD_DIR/bin [EVENTS]

The case that matters in a plant: the hub (or the network to it) was away,
the edge kept recording, and now the backlog must reach the hub. This starts
a real mw-edge on loopback with its hub down, posts EVENTS (default 200000)
events through the edge's local API in batches, then starts mw-hub and times
from the moment the hub listens until its GET /v1/nodes shows the edge's
acked_seq at the last seq the edge assigned. Figures, one a line:

  bench edge.rss.idle <KiB>          resident memory of an idle mw-edge
  bench edge.api.post_events <ev/s>  local API intake while the hub is down
  bench uplink.forward <ev/s>        backlog forwarded, stored and acked

Only the Python standard library is used; daemons get temporary data dirs
and are stopped (SIGTERM) at the end, whatever happens.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BATCH = 1000
TIMEOUT_S = 600


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_yaml(path, obj, indent=0):
    lines = []

    def emit(o, ind):
        for k, v in o.items():
            pad = "  " * ind
            if isinstance(v, dict):
                lines.append("%s%s:" % (pad, k))
                emit(v, ind + 1)
            elif isinstance(v, bool):
                lines.append("%s%s: %s" % (pad, k, "true" if v else "false"))
            elif isinstance(v, int):
                lines.append("%s%s: %d" % (pad, k, v))
            else:
                lines.append("%s%s: %s" % (pad, k, json.dumps(str(v))))
    emit(obj, indent)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Daemon:
    def __init__(self, prog, workdir, name, config, addr_file):
        self.prog = prog
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "config.yaml")
        self.addr_path = os.path.join(config["data_dir"], addr_file)
        self.log_path = os.path.join(self.dir, "log")
        write_yaml(self.config_path, config)
        self.proc = None
        self.addr = None

    def start(self, timeout=30):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.prog, "--config", self.config_path],
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d at start:\n%s" %
                                   (self.prog, self.proc.returncode, self.tail()))
            try:
                with open(self.addr_path) as f:
                    addr = f.read().strip()
                if addr:
                    self.addr = addr
                    return
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("%s wrote no %s within %ds:\n%s" %
                           (self.prog, self.addr_path, timeout, self.tail()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS for pid %d" % self.proc.pid)

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class Client:
    """A keep-alive HTTP/1.1 connection with a bearer token."""

    def __init__(self, addr, token):
        host, port = addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.token = token

    def request(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.token}
        if body is not None:
            body = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data

    def close(self):
        self.conn.close()


def load_events(edge, token, total):
    """Posts total events in batches; returns (last_seq, seconds)."""
    c = Client(edge.addr, token)
    last = 0
    t0 = time.monotonic()
    for start in range(0, total, BATCH):
        n = min(BATCH, total - start)
        batch = [{"source": "bench/m%d" % (i % 4), "kind": "sensor.reading",
                  "severity": "alarm" if i % 1000 == 999 else "info",
                  "attrs": {"i": i, "value": 20.0 + (i % 100) / 10.0, "unit": "C"}}
                 for i in range(start, start + n)]
        status, body = c.request("POST", "/v1/events", {"events": batch})
        if status != 201 or not isinstance(body, dict):
            raise RuntimeError("POST /v1/events: %s %r" % (status, body))
        last = body["last_seq"]
    secs = time.monotonic() - t0
    c.close()
    return last, secs


def acked(hub, token, node):
    c = Client(hub.addr, token)
    try:
        status, body = c.request("GET", "/v1/nodes")
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        c.close()
    if status != 200 or not isinstance(body, dict):
        return 0
    for n in body.get("nodes", []):
        if n.get("node") == node:
            return n.get("acked_seq") or 0
    return 0


def run(bindir, total, workdir):
    node = "bench-edge"
    node_token = secrets.token_hex(16)
    api_token = secrets.token_hex(16)
    hub_token = secrets.token_hex(16)
    hub_port = free_port()
    edge_data = os.path.join(workdir, "edge", "data")
    hub_data = os.path.join(workdir, "hub", "data")
    os.makedirs(edge_data)
    os.makedirs(hub_data)

    edge = Daemon(os.path.join(bindir, "mw-edge"), workdir, "edge", {
        "node": {"id": node},
        "data_dir": edge_data,
        "log": {"level": "warn"},
        "api": {"listen": "127.0.0.1:0", "token": api_token},
        "uplink": {"hub_url": "http://127.0.0.1:%d" % hub_port, "token": node_token,
                   # short waits, so the figure is the catching up, not a backoff
                   "backoff_min": "20ms", "backoff_max": "100ms"},
        "sim": {"enabled": False},
    }, "edge.addr")
    hub = Daemon(os.path.join(bindir, "mw-hub"), workdir, "hub", {
        "listen": "127.0.0.1:%d" % hub_port,
        "data_dir": hub_data,
        "log": {"level": "warn"},
        "nodes": {node: node_token},
        "api": {"token": hub_token},
        "tls": {"mode": "off"},
    }, "hub.addr")
    try:
        edge.start()
        time.sleep(1.0)
        print("bench edge.rss.idle %d KiB" % edge.rss_kib(), flush=True)

        log("loading %d events into the edge, hub down" % total)
        last, secs = load_events(edge, api_token, total)
        print("bench edge.api.post_events %.0f events/s" % (total / secs), flush=True)

        hub.start()
        t0 = time.monotonic()
        while acked(hub, hub_token, node) < last:
            if time.monotonic() - t0 > TIMEOUT_S:
                raise RuntimeError("hub acked %d of %d after %ds" %
                                   (acked(hub, hub_token, node), last, TIMEOUT_S))
            if edge.proc.poll() is not None or hub.proc.poll() is not None:
                raise RuntimeError("a daemon exited:\nedge:\n%s\nhub:\n%s" %
                                   (edge.tail(), hub.tail()))
            time.sleep(0.02)
        secs = time.monotonic() - t0
        log("hub acked seq %d after %.2f s" % (last, secs))
        print("bench uplink.forward %.0f events/s" % (last / secs), flush=True)
    finally:
        edge.stop()
        hub.stop()


def in_workdir(name, body):
    """Runs body(workdir) in a fresh temporary directory: 0 and the
    directory removed, or 1 with the error said and the directory kept for
    its logs."""
    workdir = tempfile.mkdtemp(prefix="mw-bench-%s-" % name)
    try:
        body(workdir)
    except (RuntimeError, OSError, ValueError, http.client.HTTPException) as e:
        log("bench_%s: %s" % (name, e))
        log("bench_%s: work dir kept: %s" % (name, workdir))
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main():
    if len(sys.argv) < 2:
        log("usage: bench_forward.py BUILD_DIR/bin [EVENTS]")
        return 2
    bindir = os.path.abspath(sys.argv[1])
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    return in_workdir("forward", lambda workdir: run(bindir, total, workdir))


if __name__ == "__main__":
    sys.exit(main())
