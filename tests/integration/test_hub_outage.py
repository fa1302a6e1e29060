"""test_hub_outage.py -- the line keeps running while the hub is away.

A producer posts batches of 50 events to the edge without pause while the
hub is stopped for a few seconds and started again on the same port. The
edge must keep answering 201 during the outage, and once the uplink has
drained, the hub must hold every acknowledged event exactly once, in seq
order, with the content that was posted, and see no chain break.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, Producer, check_delivered, check_no_breaks, figure, log, run, wait_until  # noqa: E402

OUTAGE_S = 4.0


def body(c):
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"}).start()
    edge = Edge(c.workdir, "edge-1", hub, extra={"uplink.batch_events": 500}).start()
    prod = Producer(edge, batch=50, pace=0.01,
                    severities=["debug", "info", "warning", "alarm"]).start()

    c.check(wait_until(lambda: edge.status()["acked_seq"] > 0, 30),
            "uplink delivers while the hub is up")
    time.sleep(1.0)

    t_down = time.monotonic()
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")
    seen = wait_until(lambda: edge.status().get("hub") not in (None, "connected") and
                      edge.status(), 10)
    c.check(seen, "edge status says the hub is not connected during the outage",
            seen and seen.get("hub"))
    time.sleep(OUTAGE_S)
    acked_down = edge.status()["acked_seq"]
    t_up = time.monotonic()
    hub.start()
    c.eq(hub.addr, "127.0.0.1:%d" % hub.port, "hub comes back on the same port")

    during = prod.accepted_between(t_down, t_up)
    c.check(during > 0, "edge accepted events while the hub was down (%d)" % during)
    c.check(not prod.rejected, "edge answered 201 to every post, outage or not",
            prod.rejected[:3])
    c.check(not prod.unanswered, "edge answered every post", len(prod.unanswered))

    time.sleep(2.0)
    prod.stop()
    last = edge.status()["last_seq"]
    t0 = time.monotonic()
    st = edge.wait_drained(120)
    c.check(st, "uplink drains after the hub is back", edge.status())
    figure("hub_outage.drain_after_restart", "%.2f" % (time.monotonic() - t0), "s")
    figure("hub_outage.events", last, "events")
    log("acked before restart %d, last seq %d" % (acked_down, last))

    c.eq(sorted(prod.accepted), list(range(1, last + 1)),
         "edge acknowledged seqs 1..last_seq without holes")
    held = check_delivered(c, hub, "edge-1", prod.accepted)
    c.eq(len(held), last, "hub holds exactly last_seq events")
    node = hub.node("edge-1")
    c.check(node and node.get("acked_seq") == last, "hub /v1/nodes acked_seq = last seq", node)
    check_no_breaks(c, hub)

    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM after the run")


run("test_hub_outage", body)
