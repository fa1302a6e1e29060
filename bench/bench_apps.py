"""bench_apps.py -- what supervising apps costs the edge.

usage: python3 bench/bench_apps.py BUILD_DIR/bin

Starts a real mw-hub and mw-edge on loopback, adds five native apps to the
catalog (each a shell loop that logs a line a second), deploys all five to
the edge through the hub, waits until the edge reports every one running,
lets them run for a few seconds and reads the edge's resident memory (the
daemon's own; the apps are processes of their own). Figures:

  bench edge.rss.with_apps <KiB>   mw-edge supervising 5 native apps (target < 10240)
  bench deploy.apps_running_s <s>  from the first deployment to all five running
"""
import os
import secrets
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_forward import Client, Daemon, free_port, in_workdir, log  # noqa: E402

APPS = 5


def manifest(i):
    return {"name": "app%d" % i, "version": "1.0", "vendor": "bench",
            "runtime": {"native": {"command": [
                "/bin/sh", "-c", "while :; do echo tick $MW_APP; sleep 1; done"]}}}


def call(client, method, path, body=None):
    status, j = client.request(method, path, body)
    if status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, status, j))
    return j


def running(client, node):
    nodes = [n for n in call(client, "GET", "/v1/nodes")["nodes"] if n["node"] == node]
    apps = ((nodes[0].get("state") or {}).get("apps") or {}) if nodes else {}
    return sum(1 for a in apps.values() if a.get("state") == "running")


def run(bindir, workdir):
    node, node_token, hub_token = "edge-1", secrets.token_hex(16), secrets.token_hex(16)
    hub_port = free_port()
    edge_data = os.path.join(workdir, "edge", "data")
    hub_data = os.path.join(workdir, "hub", "data")
    os.makedirs(edge_data)
    os.makedirs(hub_data)
    edge = Daemon(os.path.join(bindir, "mw-edge"), workdir, "edge", {
        "node": {"id": node}, "data_dir": edge_data, "log": {"level": "warn"},
        "api": {"listen": "127.0.0.1:0", "token": secrets.token_hex(16)},
        "uplink": {"hub_url": "http://127.0.0.1:%d" % hub_port, "token": node_token},
        "sim": {"enabled": False},
    }, "edge.addr")
    hub = Daemon(os.path.join(bindir, "mw-hub"), workdir, "hub", {
        "listen": "127.0.0.1:%d" % hub_port, "data_dir": hub_data, "log": {"level": "warn"},
        "nodes": {node: node_token}, "api": {"token": hub_token}, "tls": {"mode": "off"},
    }, "hub.addr")
    try:
        hub.start()
        edge.start()
        client = Client(hub.addr, hub_token)
        t0 = time.monotonic()
        for i in range(APPS):
            call(client, "POST", "/v1/apps", manifest(i))
            call(client, "POST", "/v1/deployments", {"app": "app%d" % i, "version": "1.0",
                                                     "to": {"nodes": [node]}, "settle": "1s"})
        while running(client, node) < APPS:
            if time.monotonic() - t0 > 120:
                raise RuntimeError("only %d of %d apps running after 120 s:\n%s" %
                                   (running(client, node), APPS, edge.tail()))
            time.sleep(0.1)
        print("bench deploy.apps_running_s %.2f s" % (time.monotonic() - t0), flush=True)
        time.sleep(5)
        print("bench edge.rss.with_apps %d KiB" % edge.rss_kib(), flush=True)
    finally:
        edge.stop()
        hub.stop()


def main():
    if len(sys.argv) < 2:
        log("usage: bench_apps.py BUILD_DIR/bin")
        return 2
    bindir = os.path.abspath(sys.argv[1])
    return in_workdir("apps", lambda workdir: run(bindir, workdir))


if __name__ == "__main__":
    sys.exit(main())
