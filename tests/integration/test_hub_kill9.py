"""test_hub_kill9.py -- what the hub acknowledged survives kill -9 of the hub.

A producer keeps posting to the edge while the test kills the hub with
SIGKILL several times during ingest and starts it again on the same port and
data dir. Before each kill the test records the highest acked_seq the edge
reported (the edge forgets events once the hub acknowledged them, so the hub
must never lose those); right after each restart the hub must hold every seq
up to it. At the end every event the edge acknowledged to the producer is at
the hub exactly once and the chain has no break.
"""
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, Producer, check_delivered, check_no_breaks, figure, log, run, wait_until  # noqa: E402

KILLS = 6
SEED = int(os.environ.get("MW_SEED", "4242"))


def body(c):
    log("seed %d (set MW_SEED to replay)" % SEED)
    rng = random.Random(SEED)
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"}).start()
    edge = Edge(c.workdir, "edge-1", hub, extra={"uplink.batch_events": 200}).start()
    prod = Producer(edge, batch=50, pace=0.02, seed=SEED).start()
    c.check(wait_until(lambda: edge.status()["acked_seq"] > 0, 30), "uplink delivers")

    lost = []
    acked_regressed = []
    max_acked = 0
    for k in range(1, KILLS + 1):
        deadline = time.monotonic() + rng.uniform(0.5, 2.5)
        while time.monotonic() < deadline:
            max_acked = max(max_acked, edge.status()["acked_seq"])
            time.sleep(0.03)
        hub.kill9()
        time.sleep(rng.uniform(0.1, 1.0))
        hub.start()
        seqs = {e["seq"] for e in hub.events("edge-1")}
        missing = [s for s in range(1, max_acked + 1) if s not in seqs]
        node = hub.node("edge-1") or {}
        log("kill %d: edge acked %d before; hub holds %d, hub acked_seq %s" %
            (k, max_acked, len(seqs), node.get("acked_seq")))
        if missing:
            lost.append((k, max_acked, missing[:5]))
        if (node.get("acked_seq") or 0) < max_acked:
            acked_regressed.append((k, max_acked, node.get("acked_seq")))

    c.check(not lost, "after each of %d hub kills the hub holds every seq the edge saw acked"
            % KILLS, lost)
    c.check(not acked_regressed, "hub acked_seq never goes below what it acknowledged",
            acked_regressed)
    time.sleep(1.0)
    prod.stop()
    c.check(not prod.rejected and not prod.unanswered,
            "edge answered 201 to every post while the hub was being killed",
            (prod.rejected[:3], len(prod.unanswered)))
    t0 = time.monotonic()
    c.check(edge.wait_drained(120), "uplink drains after the last restart", edge.status())
    figure("hub_kill9.drain", "%.2f" % (time.monotonic() - t0), "s")
    last = edge.status()["last_seq"]
    figure("hub_kill9.events", last, "events")
    held = check_delivered(c, hub, "edge-1", prod.accepted)
    c.eq([e["seq"] for e in held], list(range(1, last + 1)),
         "hub holds seqs 1..last_seq, each once")
    check_no_breaks(c, hub)
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")


run("test_hub_kill9", body)
