"""test_bad_input.py -- bad input gets a clear error and changes nothing.

Against the hub's POST /v1/ingest, with batches made and hashed here by the
canonical encoding of docs/protocol.md: a valid batch first (200), then
malformed JSON, wrong types, unknown fields, missing, wrong and foreign
tokens, an oversized body, zstd garbage and a zstd bomb, an unknown encoding,
and a batch whose second event is bad: each answered with its status and a
JSON error naming the field, nothing of a rejected batch stored, the hub
serving on. Against the edge's POST /v1/events: bad events are refused with
400 naming the field, a missing token with 401, and nothing is appended. And
a config file with an unknown key stops mw-hub and mw-edge with exit 2 and a
message naming the file, the line and the key.
"""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, event, log, run, wire_chain  # noqa: E402

TOK = {"edge-1": "tok-edge-1", "edge-2": "tok-edge-2"}
MAX_BODY = 16384


def ingest(hub, body, token="tok-edge-1", headers=None):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return hub.post("/v1/ingest", body, token=token, headers=h)


def expect(c, r, status, what, names=None):
    """Status, a JSON {"error"} body on errors, and the field it names."""
    ok = c.check(r.status == status, "%s -> %d" % (what, status), r)
    if status >= 400 and ok:
        c.check(r.err() != "", "%s: JSON error body" % what, r.body[:200])
        if names:
            c.check(names in r.err(), "%s: error names %s" % (what, names), r.err())
    return r


def zstd(data):
    p = subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True)
    return p.stdout


def hub_cases(c, hub):
    chain = wire_chain("edge-1", 1, 9)
    batch = {"node": "edge-1", "events": chain[0:3], "drops": []}
    r = expect(c, ingest(hub, batch), 200, "valid 3-event batch")
    c.check(r.json and r.json.get("acked") == 3 and r.json.get("stored") == 3,
            "valid batch: acked 3, stored 3", r.json)
    r = expect(c, ingest(hub, batch), 200, "same batch again")
    c.check(r.json and r.json.get("acked") == 3 and r.json.get("duplicates") == 3,
            "replayed batch: acked 3, 3 duplicates", r.json)

    expect(c, ingest(hub, b'{"node":"edge-1","events":[{'), 400, "malformed JSON")
    expect(c, ingest(hub, {"node": "edge-1", "events": "many"}), 400,
           "events not an array", "events")
    ev = dict(chain[3], seq="4")
    expect(c, ingest(hub, {"node": "edge-1", "events": [ev]}), 400, "seq as a string",
           "events[0].seq")
    expect(c, ingest(hub, {"node": "edge-1", "events": [], "colour": 1}), 400,
           "unknown top-level field", "colour")
    ev = dict(chain[3], colour="red")
    expect(c, ingest(hub, {"node": "edge-1", "events": [ev]}), 400,
           "unknown event field", "events[0].colour")
    other = wire_chain("edge-2", 1, 1)
    expect(c, ingest(hub, {"node": "edge-1", "events": other}), 400,
           "event of another node than the batch's", "events[0].node")

    expect(c, ingest(hub, batch, token=None), 401, "no token")
    expect(c, ingest(hub, batch, token="not-a-token"), 401, "wrong token")
    expect(c, ingest(hub, batch, token=TOK["edge-2"]), 403, "token of another node")

    big = dict(chain[3], attrs={"pad": "z" * (MAX_BODY + 100)})
    expect(c, ingest(hub, {"node": "edge-1", "events": [big]}), 413, "body over max_body")
    expect(c, ingest(hub, json.dumps(batch).encode(), headers={"Content-Encoding": "gzip"}),
           415, "Content-Encoding gzip")
    if shutil.which("zstd"):
        expect(c, ingest(hub, b"\x28\xb5\x2f\xfd garbage that is not a frame",
                         headers={"Content-Encoding": "zstd"}), 400, "zstd garbage")
        bomb = zstd(b'{"node":"edge-1","events":[' + b" " * (MAX_BODY * 20) + b"]}")
        expect(c, ingest(hub, bomb, headers={"Content-Encoding": "zstd"}), 413,
               "zstd body decompressing over max_body (%d bytes compressed)" % len(bomb))
        comp = zstd(json.dumps({"node": "edge-1", "events": chain[3:6], "drops": []}).encode())
        r = expect(c, ingest(hub, comp, headers={"Content-Encoding": "zstd"}), 200,
                   "valid zstd batch (seqs 4-6)")
        c.check(r.json and r.json.get("acked") == 6, "zstd batch acked to 6", r.json)
    else:
        log("note: no zstd CLI; zstd sub-cases skipped (apt-get install zstd)")
        r = expect(c, ingest(hub, {"node": "edge-1", "events": chain[3:6]}), 200,
                   "valid batch (seqs 4-6)")

    bad = [dict(e) for e in chain[6:9]]
    bad[1]["severity"] = "critical"
    expect(c, ingest(hub, {"node": "edge-1", "events": bad, "drops": []}), 400,
           "batch whose event 2 of 3 is bad", "events[1].severity")
    held = [e["seq"] for e in hub.events("edge-1")]
    c.eq(held, [1, 2, 3, 4, 5, 6], "nothing of the rejected batch stored")
    c.eq((hub.node("edge-1") or {}).get("acked_seq"), 6, "acked_seq unchanged by it")
    r = expect(c, ingest(hub, {"node": "edge-1", "events": chain[6:9], "drops": []}), 200,
               "the same batch made right")
    c.check(r.json and r.json.get("acked") == 9, "acked to 9", r.json)
    c.eq([e["seq"] for e in hub.events("edge-1")], list(range(1, 10)), "hub holds 1..9")

    expect(c, hub.get("/v1/nowhere"), 404, "unknown path")
    expect(c, hub.get("/v1/ingest", token=TOK["edge-1"]), 405, "GET /v1/ingest")
    expect(c, hub.get("/v1/events?node=edge-1", token=None), 401, "query without api token")
    c.eq(hub.get("/healthz", token=None).status, 200, "hub healthz 200 after all that")
    c.eq(len(hub.breaks()), 0, "no chain break from any of it")


def edge_cases(c, edge):
    last0 = edge.status()["last_seq"]
    good = event(1, severity="warning")
    bads = [
        ("missing severity", {k: v for k, v in good.items() if k != "severity"}, "severity"),
        ("unknown severity", dict(good, severity="critical"), "severity"),
        ("source with a space", dict(good, source="line 1"), "source"),
        ("attrs not an object", dict(good, attrs=[1, 2]), "attrs"),
        ("ts negative", dict(good, ts=-5), "ts"),
        ("unknown field", dict(good, colour="red"), "colour"),
        ("blobs not hashes", dict(good, blobs=["abc"]), "blobs"),
        ("the store's own source", dict(good, source="store"), "source"),
        ("the store's own kind", dict(good, kind="store.dropped"), "kind"),
    ]
    for what, ev, field in bads:
        expect(c, edge.post("/v1/events", ev), 400, "edge: " + what, field)
    expect(c, edge.post("/v1/events", [good, bads[1][1], good]), 400,
           "edge: array whose 2nd event is bad", "severity")
    expect(c, edge.post("/v1/events", b'{"source": "a", '), 400, "edge: malformed JSON")
    expect(c, edge.post("/v1/events", good, token=None), 401, "edge: no token")
    expect(c, edge.post("/v1/events", good, token="wrong"), 401, "edge: wrong token")
    c.eq(edge.status()["last_seq"], last0, "edge: nothing appended by bad posts")
    r = expect(c, edge.post("/v1/events", [good, good]), 201, "edge: good post")
    c.eq(edge.status()["last_seq"], last0 + 2, "edge: good post appended 2")
    c.eq(edge.get("/healthz", token=None).status, 200, "edge healthz 200")


def config_case(c, prog, text, line, key):
    path = os.path.join(c.workdir, "bad-%s.yaml" % prog)
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([os.path.join(BIN, prog), "--config", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode(errors="replace")
    log("%s stderr: %s" % (prog, err.strip()))
    c.eq(p.returncode, 2, "%s with an unknown key exits 2" % prog)
    c.check(os.path.basename(path) in err and (":%d" % line) in err and key in err,
            "%s names the file, line %d and key %s" % (prog, line, key), err)


def body(c):
    hub = Hub(c.workdir, TOK, extra={"max_body": MAX_BODY}).start()
    hub_cases(c, hub)
    edge = Edge(c.workdir, "edge-3", hub_url="http://127.0.0.1:9").start()
    edge_cases(c, edge)
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")
    d = os.path.join(c.workdir, "cfg")
    config_case(c, "mw-hub", 'listen: "127.0.0.1:0"\ndata_dir: "%s"\nbogus_key: 1\n' % d,
                3, "bogus_key")
    config_case(c, "mw-edge", 'node:\n  id: "e"\ndata_dir: "%s"\nuplink:\n  hub_urll: "x"\n'
                % d, 5, "uplink.hub_urll")


run("test_bad_input", body)
