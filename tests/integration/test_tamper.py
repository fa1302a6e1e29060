"""test_tamper.py -- the hub notices events altered or removed on the edge.

Two cases, each with the hub away while the edge stores events:
1. one event's attrs is rewritten in the edge's events.db with sqlite3
   (its hash left as it was): the hub must record a chain.break with reason
   `altered` naming the node and the seq, count it in
   mw_hub_chain_breaks_total{reason="altered"}, and still store the event;
2. a row in the middle is deleted (no drop record): the hub must record a
   `gap` (or `linkage`) break for it and the flow must go on to the end.
"""
import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, event, log, metric, run  # noqa: E402

N = 20
K = 10           # the seq tampered with


def fill(c, edge, n):
    r = edge.post_events([event(i, severity="info") for i in range(n)])
    c.eq(r.status, 201, "edge %s accepts %d events with the hub away" % (edge.node_id, n))
    c.eq(edge.stop(), 0, "edge %s exits 0 on SIGTERM" % edge.node_id)


def edit_db(edge, sql, args=()):
    db = sqlite3.connect(edge.db_path(), timeout=10)
    try:
        cur = db.execute(sql, args)
        db.commit()
        return cur.rowcount
    finally:
        db.close()


def find_break(breaks, node, reasons, seq):
    for b in breaks:
        a = b.get("attrs", {})
        if a.get("node") != node or a.get("reason") not in reasons:
            continue
        if a.get("seq") in (seq, seq + 1) or a.get("from", 0) <= seq <= a.get("to", -1):
            return b
    return None


def case_altered(c, hub):
    edge = Edge(c.workdir, "edge-1", hub).start()
    fill(c, edge, N)
    rows = edit_db(edge, "UPDATE events SET attrs = ? WHERE seq = ?",
                   ('{"n":999,"uid":"tampered"}', K))
    c.eq(rows, 1, "tampered with seq %d in the edge's events.db" % K)
    edge.start()
    hub.start()
    c.check(edge.wait_drained(60), "edge-1 drains despite the altered event", edge.status())
    breaks = hub.breaks()
    log("breaks after case 1: %s" % breaks)
    b = find_break(breaks, "edge-1", ("altered",), K)
    c.check(b and b["attrs"].get("seq") == K,
            "hub records chain.break reason=altered node=edge-1 seq=%d" % K, breaks)
    c.check(b and b.get("severity") == "alarm" and b.get("source") == "chain" and
            b.get("node") == "hub", "the break is an alarm of node hub, source chain", b)
    c.eq(metric(hub.metrics(), "mw_hub_chain_breaks_total", reason="altered"), 1,
         "mw_hub_chain_breaks_total{reason=\"altered\"} counts it")
    held = {e["seq"]: e for e in hub.events("edge-1")}
    c.check(K in held and held[K]["attrs"].get("uid") == "tampered",
            "the altered event is stored all the same", held.get(K))
    c.eq(sorted(held), list(range(1, N + 1)), "hub holds all %d events of edge-1" % N)
    node = hub.node("edge-1") or {}
    c.check((node.get("breaks") or 0) >= 1, "/v1/nodes counts the break for edge-1", node)
    c.eq(edge.stop(), 0, "edge-1 exits 0 on SIGTERM")


def case_gap(c, hub):
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")
    edge = Edge(c.workdir, "edge-2", hub).start()
    fill(c, edge, N)
    rows = edit_db(edge, "DELETE FROM events WHERE seq = ?", (K,))
    c.eq(rows, 1, "deleted seq %d from the edge's events.db" % K)
    edge.start()
    hub.start()
    c.check(edge.wait_drained(60), "edge-2 drains past the deleted event", edge.status())
    breaks = hub.breaks()
    log("breaks after case 2: %s" % breaks)
    b = find_break(breaks, "edge-2", ("gap", "linkage"), K)
    c.check(b, "hub records chain.break gap (or linkage) for edge-2 at seq %d" % K, breaks)
    held = sorted(e["seq"] for e in hub.events("edge-2"))
    want = [s for s in range(1, N + 1) if s != K]
    c.eq(held, want, "hub holds every edge-2 event but the deleted one")
    m = hub.metrics()
    c.check((metric(m, "mw_hub_chain_breaks_total", reason="gap") or 0) +
            (metric(m, "mw_hub_chain_breaks_total", reason="linkage") or 0) >= 1,
            "mw_hub_chain_breaks_total counts the gap/linkage break")
    mine = [x for x in breaks if x.get("attrs", {}).get("node") == "edge-2"]
    log("edge-2 breaks: %s" % [x.get("attrs") for x in mine])
    c.eq(metric(m, "mw_hub_chain_breaks_total"), len(mine),
         "mw_hub_chain_breaks_total (reset by the restart) equals the breaks since")
    c.eq(edge.stop(), 0, "edge-2 exits 0 on SIGTERM")


def body(c):
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1", "edge-2": "tok-edge-2"})
    case_altered(c, hub)
    case_gap(c, hub)
    t0 = time.monotonic()
    c.check(hub.get("/healthz").status == 200, "hub still healthy")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")
    log("final stop %.2fs" % (time.monotonic() - t0))


run("test_tamper", body)
