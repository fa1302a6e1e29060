"""test_evidence.py -- evidence snapshots travel from the edge to the hub.

A producer posts a JPEG snapshot to the edge's local API (POST /v1/blobs),
then an alarm event that references it by hash. The event must reach the
hub and the hub must serve the snapshot byte for byte (GET and HEAD
/v1/blobs/HASH, Content-Type image/jpeg). While the hub is down a second
snapshot and its event are accepted by the edge and arrive once the hub is
back. The edge refuses an event naming a blob it does not hold (400 naming
the hash), a body of the wrong type (415) or over blobs.max_size (413).
The hub refuses a PUT whose body does not hash to its name (400, nothing
stored) and one without a node token (401), and answers 201 then 200 for
the same blob uploaded twice.
"""
import hashlib
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, http, metric, run, wait_until  # noqa: E402

MAX_SIZE = 256 * 1024


def make_jpeg(workdir, name, pattern):
    """A real JPEG from FFmpeg's test sources (generated, never downloaded)."""
    path = os.path.join(workdir, name)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "%s=size=320x240:rate=1" % pattern, "-frames:v", "1", path],
                   check=True, stdin=subprocess.DEVNULL)
    with open(path, "rb") as f:
        return f.read()


def post_blob(edge, data, ctype="image/jpeg"):
    return http("POST", edge.url + "/v1/blobs", data, token=edge.token,
                headers={"Content-Type": ctype})


def alarm(uid, blobs):
    return {"source": "cam1", "kind": "zone.intrusion", "severity": "alarm",
            "attrs": {"uid": uid, "zone": "press"}, "blobs": blobs}


def hub_event(hub, node, uid):
    for e in hub.events(node):
        if e.get("attrs", {}).get("uid") == uid:
            return e
    return None


def hub_blob(hub, h):
    return http("GET", hub.url + "/v1/blobs/" + h, token=hub.token)


def body(c):
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"},
              extra={"blobs.max_size": MAX_SIZE}).start()
    edge = Edge(c.workdir, "edge-1", hub, extra={"blobs.max_size": MAX_SIZE}).start()
    jpeg1 = make_jpeg(c.workdir, "a.jpg", "testsrc")
    jpeg2 = make_jpeg(c.workdir, "b.jpg", "smptebars")
    h1 = hashlib.sha256(jpeg1).hexdigest()
    h2 = hashlib.sha256(jpeg2).hexdigest()

    # Snapshot, then the alarm that references it.
    r = post_blob(edge, jpeg1)
    c.eq(r.status, 201, "edge accepts a JPEG on POST /v1/blobs")
    c.eq((r.json or {}).get("hash"), h1, "edge answers the blob's SHA-256")
    r = post_blob(edge, jpeg1, "application/octet-stream")
    c.check(r.status == 201 and r.json.get("hash") == h1,
            "posting the same bytes again gives the same hash", r)
    r = edge.post_events([alarm("e1", [h1])])
    c.eq(r.status, 201, "edge accepts an alarm referencing the blob")

    ev = wait_until(lambda: hub_event(hub, "edge-1", "e1"), 30)
    c.check(ev and ev.get("blobs") == [h1], "the event reaches the hub with its blob hash", ev)
    got = wait_until(lambda: (lambda r: r if r.status == 200 else None)(hub_blob(hub, h1)), 30)
    c.check(got and got.body == jpeg1, "hub serves the snapshot byte for byte",
            got and len(got.body))
    c.check(got and got.headers.get("Content-Type") == "image/jpeg",
            "hub serves it as image/jpeg", got and got.headers)
    r = http("HEAD", hub.url + "/v1/blobs/" + h1, token=hub.token)
    c.check(r.status == 200 and int(r.headers.get("Content-Length", -1)) == len(jpeg1),
            "HEAD gives the blob's length without the body", r.headers)
    r = http("GET", hub.url + "/v1/blobs/" + h1, token="wrong-token")
    c.eq(r.status, 401, "reading a blob needs the hub's API token, as events do")
    c.check(wait_until(lambda: metric(edge.metrics(), "mw_edge_blobs_pending") == 0, 10),
            "edge metrics: no blob left pending")

    # Refusals at the edge.
    unknown = hashlib.sha256(b"never posted").hexdigest()
    r = edge.post_events([alarm("e-bad", [unknown])])
    c.check(r.status == 400 and unknown in r.err(),
            "an event naming a blob the edge does not hold is refused, naming it", r)
    r = post_blob(edge, b"x" * 100, "text/plain")
    c.eq(r.status, 415, "a blob body that is not image/jpeg or octet-stream is refused")
    r = post_blob(edge, b"\xff\xd8\xff" + b"\0" * MAX_SIZE)
    c.eq(r.status, 413, "a blob over blobs.max_size is refused")
    r = http("POST", edge.url + "/v1/blobs", jpeg1, token="wrong",
             headers={"Content-Type": "image/jpeg"})
    c.eq(r.status, 401, "POST /v1/blobs needs the API token")

    # Hub away: the edge keeps accepting; the blob follows once it is back.
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")
    r = post_blob(edge, jpeg2)
    c.eq(r.status, 201, "edge accepts a snapshot while the hub is down")
    r = edge.post_events([alarm("e2", [h2])])
    c.eq(r.status, 201, "edge accepts its event while the hub is down")
    hub.start()
    got = wait_until(lambda: (lambda r: r if r.status == 200 else None)(hub_blob(hub, h2)), 60)
    c.check(got and got.body == jpeg2, "the snapshot reaches the hub after the outage")
    ev = wait_until(lambda: hub_event(hub, "edge-1", "e2"), 30)
    c.check(ev and ev.get("blobs") == [h2], "its event too", ev)

    # The hub's own checks on uploads.
    node_tok = "tok-edge-1"
    bogus = b"\xff\xd8\xff not the content of that name"
    m0 = hub.metrics()
    r = http("PUT", hub.url + "/v1/blobs/" + unknown, bogus, token=node_tok,
             headers={"Content-Type": "application/octet-stream"})
    c.check(r.status == 400 and "SHA-256" in r.err(), "PUT with a wrong hash is refused", r)
    c.eq(hub_blob(hub, unknown).status, 404, "nothing is stored under that name")
    r = http("PUT", hub.url + "/v1/blobs/" + hashlib.sha256(bogus).hexdigest(), bogus,
             token="not-a-node-token")
    c.eq(r.status, 401, "PUT without a node token is refused")
    m1 = hub.metrics()
    c.eq(metric(m1, "mw_hub_blobs"), metric(m0, "mw_hub_blobs"),
         "hub metric mw_hub_blobs unchanged by refused uploads")
    c.check(metric(m1, "mw_hub_blobs_rejected_total") == 2,
            "hub counts both refusals", metric(m1, "mw_hub_blobs_rejected_total"))
    h3 = hashlib.sha256(bogus).hexdigest()
    r1 = http("PUT", hub.url + "/v1/blobs/" + h3, bogus, token=node_tok)
    r2 = http("PUT", hub.url + "/v1/blobs/" + h3, bogus, token=node_tok)
    c.check(r1.status == 201 and r2.status == 200, "PUT stores once: 201, then 200",
            (r1, r2))
    g = hub_blob(hub, h3)
    c.check(g.status == 200 and g.body == bogus and
            g.headers.get("Content-Type") == "image/jpeg", "what was PUT is served", g)
    r = http("PUT", hub.url + "/v1/blobs/" + h3, b"\0" * (MAX_SIZE + 1), token=node_tok)
    c.eq(r.status, 413, "hub refuses a blob over its blobs.max_size")
    r = hub_blob(hub, "not-a-hash")
    c.check(r.status == 404 and r.err(), "GET of a malformed name is a JSON 404", r)
    m2 = hub.metrics()
    c.check(metric(m2, "mw_hub_blobs") == 3, "hub holds 3 blobs", metric(m2, "mw_hub_blobs"))
    c.eq(metric(m2, "mw_hub_blobs_bytes"), float(len(jpeg1) + len(jpeg2) + len(bogus)),
         "mw_hub_blobs_bytes counts their bytes")

    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    c.eq(hub.stop(), 0, "hub exits 0 on SIGTERM")


run("test_evidence", body)
