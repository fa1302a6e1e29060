"""test_fleet.py -- edges report their health; the hub says who is online.

A real hub (fleet.stale_missed 2, fleet.offline_missed 3) and an edge with
heartbeat.interval 300ms. The hub shows the edge online with what it
reported (CPU, memory, disk, network, uptime, versions, peripherals, the
store's backlog), kept whole across reports that carry only changes. Frozen
(SIGSTOP), the edge goes stale, then offline, each once and with an event
in the hub's chain; thawed, it is online again. Malformed reports are
refused with the field named. A restarted hub still knows the last report.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, event, http, run, wait_until  # noqa: E402

NODE_TOKEN = "tok-edge-1-secret"
GROUPS = ("cpu", "memory", "disk", "network", "uptime_s", "versions", "peripherals",
          "store", "temperatures", "cameras", "vision_worker")


def body(c):
    hub = Hub(c.workdir, {"edge-1": NODE_TOKEN},
              extra={"fleet": {"stale_missed": 2, "offline_missed": 3}}).start()
    edge = Edge(c.workdir, "edge-1", hub, extra={"heartbeat": {"interval": "300ms"}}).start()

    def node():
        nodes = (hub.get("/v1/nodes").json or {}).get("nodes", [])
        return next((n for n in nodes if n["node"] == "edge-1"), {})

    def status_is(s):
        return lambda: node() if node().get("status") == s else None

    n = wait_until(status_is("online"), 10)
    c.check(bool(n), "the edge shows up online within a few heartbeats", repr(node())[:300])
    state = (n or {}).get("state") or {}
    c.check(all(g in state for g in GROUPS), "its report has every group",
            ", ".join(sorted(state)))
    c.check(state.get("memory", {}).get("total_bytes", 0) > 0 and
            state.get("disk", {}).get("free_bytes", 0) > 0 and
            state.get("cpu", {}).get("cores", 0) >= 1 and state.get("uptime_s", 0) > 0,
            "with the machine's real figures", repr(state)[:300])
    edge.post_events([event(i) for i in range(30)])
    c.check(wait_until(lambda: (node().get("state") or {}).get("store", {}).get("last_seq", 0)
                       >= 30, 10), "the store's progress shows in later reports")
    time.sleep(2.5)   # several reports that carry only what changed
    state = node().get("state") or {}
    c.check(all(g in state for g in GROUPS),
            "reports of changes only are merged: the state stays whole", ", ".join(state))

    p = subprocess.run([os.path.join(BIN, "mw"), "--hub", hub.url, "--token", hub.token,
                        "nodes", "show", "edge-1"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    shown = json.loads(p.stdout or b"{}")
    c.check(p.returncode == 0 and shown.get("status") == "online" and
            "peripherals" in (shown.get("state") or {}),
            "mw nodes show edge-1 prints its status and report", p.stderr.decode())
    p = subprocess.run([os.path.join(BIN, "mw"), "--hub", hub.url, "--token", hub.token,
                        "nodes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    c.check(p.returncode == 0 and "edge-1" in p.stdout.decode() and
            "online" in p.stdout.decode(), "mw nodes lists it online", p.stdout.decode())

    # ---- stale, offline, online ------------------------------------------------
    t0 = time.monotonic()
    os.kill(edge.proc.pid, signal.SIGSTOP)
    try:
        c.check(wait_until(status_is("stale"), 5), "a frozen edge goes stale")
        c.check(wait_until(status_is("offline"), 5), "then offline")
        log_t = time.monotonic() - t0
    finally:
        os.kill(edge.proc.pid, signal.SIGCONT)
    c.check(log_t < 5, "within about 3 intervals and the monitor's second", "%.1f s" % log_t)
    c.check(wait_until(status_is("online"), 5), "thawed, it is online again")
    # status changes reach the hub's chain with the next flush (within a second)
    evs = wait_until(lambda: (lambda e: e if [x["kind"] for x in e].count("node.online") >= 2
                              else None)(hub.events("hub")), 5) or hub.events("hub")
    kinds = [(e["kind"], e["source"], e["severity"]) for e in evs]
    for want in [("node.online", "edge-1", "info"), ("node.stale", "edge-1", "warning"),
                 ("node.offline", "edge-1", "alarm")]:
        c.check(want in kinds, "the hub's chain has %s for %s (%s)" % want)
    c.eq(sum(1 for k in kinds if k[0] == "node.offline"), 1, "offline is said once")
    order = [k[0] for k in kinds]
    c.check(order.index("node.stale") < order.index("node.offline") <
            len(order) - 1 - order[::-1].index("node.online"),
            "in the order it happened", repr(order))

    # ---- bad reports -------------------------------------------------------------
    r = http("POST", hub.url + "/v1/heartbeat", {"interval_ms": 1000, "state": 1},
             token=NODE_TOKEN)
    c.check(r.status == 400 and r.err().startswith("state"), "a state that is no object: 400",
            repr(r))
    r = http("POST", hub.url + "/v1/heartbeat", {"interval_ms": 5, "state": {}},
             token=NODE_TOKEN)
    c.check(r.status == 400 and r.err().startswith("interval_ms"),
            "an interval out of range: 400", repr(r))
    r = http("POST", hub.url + "/v1/heartbeat", {"interval_ms": 1000, "state": {}})
    c.eq(r.status, 401, "no credential: 401")

    # ---- the hub keeps what it knew across a restart --------------------------------
    edge.stop()
    before = node()
    hub.restart()
    after = node()
    c.check(after.get("last_heartbeat") and
            abs(after["last_heartbeat"] - before["last_heartbeat"]) < 2 * 10**9 and
            all(g in (after.get("state") or {}) for g in GROUPS),
            "a restarted hub still has the node's last report", repr(after)[:200])
    c.check(wait_until(status_is("offline"), 5), "and, the edge being gone, marks it offline")


if __name__ == "__main__":
    run("test_fleet", body)
