"""test_edge_kill9.py -- what the edge acknowledged survives kill -9.

A producer posts 100,000 events in batches of 100 while the test kills the
edge with SIGKILL at random moments, at least 20 times, restarting it on the
same data dir each time. Every event the edge answered 201 for must reach the
hub exactly once under the seq it was given; events whose request got no
answer may or may not be there, but never twice; the chain has no break.
The seed is printed and can be set with MW_SEED to replay a run.
"""
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, Producer, check_delivered, check_no_breaks, figure, log, run, wait_until  # noqa: E402

TOTAL = int(os.environ.get("MW_KILL9_EVENTS", 100000))
KILLS = 24
SEED = int(os.environ.get("MW_SEED", "20251125"))


def body(c):
    log("seed %d (set MW_SEED to replay)" % SEED)
    rng = random.Random(SEED)
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"}).start()
    edge = Edge(c.workdir, "edge-1", hub, extra={"uplink.batch_events": 1000}).start()
    prod = Producer(edge, batch=100, limit=TOTAL, seed=SEED).start()

    step = TOTAL // (KILLS + 1)
    kills = 0
    lost_after_restart = []
    t0 = time.monotonic()
    while kills < KILLS and not prod.done():
        target = prod.n_accepted() + rng.randint(step // 3, step)
        wait_until(lambda: prod.n_accepted() >= target or prod.done(), 300)
        if prod.done():
            break
        time.sleep(rng.uniform(0, 0.03))      # land inside a request, or not
        acked_before = max(prod.accepted, default=0)
        edge.kill9()
        kills += 1
        t_kill = time.monotonic()
        edge.start()
        last = edge.status()["last_seq"]
        log("kill %d at %.1fs: acked %d, last_seq after restart %d, restart %.2fs" %
            (kills, t_kill - t0, acked_before, last, time.monotonic() - t_kill))
        if last < acked_before:
            lost_after_restart.append((kills, acked_before, last))
    wait_until(prod.done, 300, 0.2)
    prod.stop()
    elapsed = time.monotonic() - t0
    figure("edge_kill9.ingest_rate", "%.0f" % (len(prod.accepted) / elapsed), "events/s")
    log("kills %d, accepted %d, unanswered batches %d, requests %d" %
        (kills, len(prod.accepted), len(prod.unanswered), prod.requests))

    c.check(kills >= 20, "edge killed with SIGKILL at least 20 times (%d)" % kills)
    c.check(len(prod.accepted) >= TOTAL, "producer got %d events acknowledged" % TOTAL,
            len(prod.accepted))
    c.check(not prod.rejected, "edge answered every post it answered with 201",
            prod.rejected[:3])
    c.check(not lost_after_restart, "after each restart last_seq >= every acknowledged seq",
            lost_after_restart[:5])

    t1 = time.monotonic()
    st = edge.wait_drained(240)
    c.check(st, "uplink drains after the last restart", edge.status())
    figure("edge_kill9.drain", "%.2f" % (time.monotonic() - t1), "s")
    last = edge.status()["last_seq"]
    held = check_delivered(c, hub, "edge-1", prod.accepted, maybe=prod.unanswered)
    log("events at the hub from requests that got no answer: %d" %
        (len(held) - len(prod.accepted)))
    c.eq([e["seq"] for e in held], list(range(1, last + 1)),
         "hub holds seqs 1..last_seq, each once, no gap")
    check_no_breaks(c, hub)
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")


run("test_edge_kill9", body)
