"""test_metrics.py -- both daemons serve valid Prometheus metrics that count.

After some traffic through an edge into the hub, GET /metrics of each is
checked with `promtool check metrics` (Debian's prometheus package; `make
deps` installs it), and the counters a dashboard would plot agree with what
the test sent: events appended at the edge, events ingested at the hub.
"""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, event, log, metric, run  # noqa: E402

N_BATCHES = 6
BATCH = 100
HUB_INGESTED = "mw_hub_events_ingested_total"
EDGE_APPENDED = "mw_edge_events_appended_total"
EDGE_ACKED = "mw_edge_uplink_acked_seq"


def promtool(c, who, text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace").strip()
    c.check(p.returncode == 0, "promtool check metrics accepts the %s's /metrics" % who, out)


def body(c):
    if not shutil.which("promtool"):
        c.fatal("promtool not found: run `make deps` (Debian package prometheus)")
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"}).start()
    edge = Edge(c.workdir, "edge-1", hub).start()
    sent = 0
    for b in range(N_BATCHES):
        r = edge.post_events([event(b * BATCH + k, severity="info") for k in range(BATCH)])
        c.eq(r.status, 201, "batch %d accepted" % b)
        sent += BATCH if r.status == 201 else 0
    c.check(edge.wait_drained(60), "uplink drains", edge.status())

    hm = hub.metrics()
    em = edge.metrics()
    log("hub metrics:\n" + hm)
    log("edge metrics:\n" + em)
    promtool(c, "hub", hm)
    promtool(c, "edge", em)
    c.eq(metric(hm, HUB_INGESTED), sent, "hub %s == events sent" % HUB_INGESTED)
    c.eq(metric(em, EDGE_APPENDED), sent, "edge %s == events posted" % EDGE_APPENDED)
    c.eq(metric(em, EDGE_ACKED), sent, "edge %s == events delivered" % EDGE_ACKED)
    c.eq(metric(hm, "mw_hub_chain_breaks_total") or 0, 0, "no chain breaks counted")
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")


run("test_metrics", body)
