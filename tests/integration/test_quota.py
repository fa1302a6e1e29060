"""test_quota.py -- drops by policy under the store quota are accounted for.

The edge runs with a small store.quota and no hub. The test posts events of
mixed severity, several times what fits, so the store must drop unsent
events. Then the hub starts and the uplink drains. Every seq from 1 to the
last must then be either at the hub or inside a range of a store.dropped
event, never both; the dropped counts agree; drops went lowest severity
first and oldest first within a severity (so no alarm went while an older,
lower-severity event survived), the store's own store.dropped events after
the other warnings; and the hub saw no chain break.

The store.dropped events are warnings, so the policy may drop them too
(here it must: alarms go, and those go before). Their ranges are then
carried forward into the next store.dropped event, so what the hub holds
still accounts for every drop: each store.dropped event the edge appended
is at the hub or inside the ranges of a later one that is.
"""
import os
import random
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import SEV_RANK, Edge, Hub, check_no_breaks, event, figure, log, run  # noqa: E402

QUOTA = "256K"
QUOTA_BYTES = 256 * 1024
EVENTS = 4000
BATCH = 100
PAD = 300
SEED = int(os.environ.get("MW_SEED", "777"))
MIX = ["debug"] * 4 + ["info"] * 3 + ["warning"] * 2 + ["alarm"]


def post_all(c, edge, rng):
    posted = {}
    bad = []
    for b in range(EVENTS // BATCH):
        evs = [event(b * BATCH + k, severity=rng.choice(MIX), pad="p" * PAD)
               for k in range(BATCH)]
        r = edge.post_events(evs)
        if r.status != 201:
            bad.append(r)
            continue
        for k, e in enumerate(evs):
            posted[r.json["first_seq"] + k] = e
    c.check(not bad, "edge accepts every post over its quota (201)", bad[:3])
    return posted


def dropped_seqs(c, drop_events):
    seqs = set()
    total = 0
    overlap = False
    ahead = []
    for d in drop_events:
        a = d.get("attrs", {})
        total += a.get("count", 0)
        for rg in a.get("ranges", []):
            lo, hi = (rg["from"], rg["to"]) if isinstance(rg, dict) else rg
            r = set(range(lo, hi + 1))
            overlap |= bool(r & seqs)
            seqs |= r
            if hi >= d["seq"]:
                ahead.append((d["seq"], lo, hi))
    c.check(not overlap, "drop ranges never overlap")
    c.check(not ahead, "a store.dropped event lists only seqs below its own", ahead[:5])
    odd = [rg for d in drop_events for rg in d.get("attrs", {}).get("ranges", [])
           if not (isinstance(rg, list) and len(rg) == 2 and
                   all(isinstance(x, int) for x in rg))]
    c.check(not odd, "store.dropped ranges are [from, to] pairs (docs/protocol.md)", odd[:3])
    c.check(all(d.get("severity") == "warning" and d.get("source") == "store" and
                d.get("attrs", {}).get("reason") == "quota" for d in drop_events),
            "store.dropped events are warning, source store, reason quota", drop_events[:1])
    return seqs, total


def check_policy(c, posted, kept, last):
    """Walks seqs in order keeping the lowest deletion rank of the events
    that survived so far (those still in the edge's events.db); a dropped
    event of that rank or higher means an older event of lower (or equal)
    rank outlived it. The rank is the severity's, but the store's own
    store.dropped events (every seq not posted) rank between warning and
    alarm. All were unsent when dropped: no hub."""
    lowest = len(SEV_RANK)
    violations = []
    alarm_violations = []
    for s in range(1, last + 1):
        e = posted.get(s)
        if e is None:
            e = {"severity": "store.dropped"}
            rank = SEV_RANK["warning"] + 0.5
        else:
            rank = SEV_RANK[e["severity"]]
        if s in kept:
            lowest = min(lowest, rank)
        elif lowest <= rank:
            violations.append((s, e["severity"]))
            if e["severity"] == "alarm" and lowest < rank:
                alarm_violations.append(s)
    c.check(not alarm_violations,
            "no alarm dropped while an older lower-severity unsent event survived",
            alarm_violations[:10])
    c.check(not violations, "drops went lowest severity first, oldest first within one",
            violations[:10])


def body(c):
    log("seed %d (set MW_SEED to replay)" % SEED)
    rng = random.Random(SEED)
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"})       # not started yet
    edge = Edge(c.workdir, "edge-1", hub, extra={"store.quota": QUOTA}).start()
    posted = post_all(c, edge, rng)
    st = edge.status()
    log("edge status after posting: %s" % st)
    c.check(st.get("dropped", 0) > 0, "edge status counts dropped events", st)
    c.check(st.get("bytes_used", 0) <= QUOTA_BYTES,
            "edge store stays within its quota (%s)" % QUOTA, st.get("bytes_used"))
    figure("quota.bytes_used", st.get("bytes_used"), "bytes")

    hub.start()
    t0 = time.monotonic()
    c.check(edge.wait_drained(90), "uplink drains once the hub is up", edge.status())
    figure("quota.drain", "%.2f" % (time.monotonic() - t0), "s")
    st = edge.status()
    last = st["last_seq"]
    held = hub.events("edge-1")
    held_seqs = {e["seq"] for e in held}
    drops = [e for e in held if e.get("kind") == "store.dropped"]
    c.check(drops, "hub holds store.dropped events (%d)" % len(drops))
    dseqs, dcount = dropped_seqs(c, drops)
    c.check(not (dseqs & held_seqs), "no seq both at the hub and declared dropped",
            sorted(dseqs & held_seqs)[:10])
    everything = set(range(1, last + 1))
    c.check(held_seqs | dseqs == everything,
            "hub seqs + dropped ranges == 1..%d exactly" % last,
            "missing %s, extra %s" % (sorted(everything - held_seqs - dseqs)[:10],
                                      sorted((held_seqs | dseqs) - everything)[:10]))
    missing = last - len(held_seqs)
    c.eq(dcount, missing, "sum of store.dropped counts == seqs missing at the hub")
    c.eq(st.get("dropped"), missing, "edge status dropped == seqs missing at the hub")
    by_seq = {e["seq"]: e for e in held}
    wrong = [s for s in held_seqs if s in posted and by_seq[s]["attrs"] != posted[s]["attrs"]]
    c.check(not wrong, "surviving events arrive unchanged", wrong[:5])
    appended = everything - set(posted)      # the seqs of the edge's store.dropped events
    drop_at_hub = {d["seq"] for d in drops}
    lost = sorted(s for s in appended if s not in drop_at_hub and s not in dseqs)
    c.check(not lost, "every store.dropped event the edge appended reaches the hub or is "
            "carried forward inside a later one's ranges", lost[:10])
    log("store.dropped events: %d appended, %d at the hub, %d inside later ones' ranges"
        % (len(appended), len(drop_at_hub & appended), len(appended & dseqs)))
    c.eq(st.get("pruned"), 0, "nothing pruned after the drain (the edge db holds the survivors)")
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    db = sqlite3.connect("file:%s?mode=ro" % edge.db_path(), uri=True)
    kept_at_edge = {r[0] for r in db.execute("SELECT seq FROM events")}
    db.close()
    check_policy(c, posted, kept_at_edge, last)
    kept = {}
    for s in held_seqs:
        if s in posted:
            kept[posted[s]["severity"]] = kept.get(posted[s]["severity"], 0) + 1
    log("survivors by severity: %s; dropped %d of %d" % (kept, missing, last))
    check_no_breaks(c, hub)
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")


run("test_quota", body)
