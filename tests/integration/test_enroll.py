"""test_enroll.py -- an edge joins the hub with a one-time token, and is revoked.

A real hub and real edges on loopback. An admin makes enrollment tokens with
`mw enroll create`; `mw-edge enroll HUB TOKEN --config F` on a new edge
trades one for the node's credential (DATA_DIR/node.credential, mode 0600),
and the edge, with no uplink token in its config, then sends its events with
it. Then what a user would run into: a token used twice, an expired one, one
meant for another node, an id that is taken, revoking the node (its next
batch is refused with 401 and nothing more of it is stored), and all of it
in the audit log.
"""
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, event, metric, run, run_mw, wait_until  # noqa: E402

ADMIN = "admin-static-token"


def body(c):
    hub = Hub(c.workdir, {"old-edge": "tok-old-edge-1"}, api_token=ADMIN).start()

    env = dict(os.environ, MW_HUB=hub.url, MW_TOKEN=ADMIN,
               MW_CREDENTIALS=os.path.join(c.workdir, "creds"))

    def mw(*args):
        return run_mw(*args, env=env)

    def new_edge(node):
        e = Edge(c.workdir, node, extra={"uplink": {"hub_url": "", "token": ""}})
        e.write_config()
        return e

    def enroll(e, token, url=None):
        p = subprocess.run([os.path.join(BIN, "mw-edge"), "enroll", url or hub.url, token,
                            "--config", e.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    rc, out, err = mw("enroll", "create", "--label", "line=3", "--label", "site=north",
                      "--ttl", "1h")
    token = out.strip()
    c.check(rc == 0 and token.startswith("mwe_") and "mw-edge enroll" in err,
            "mw enroll create prints a one-time token and how to use it", out + err)
    rc, out, err = mw("enroll", "list")
    c.check(rc == 0 and "line" in out and "north" in out, "mw enroll list shows it", out)

    # ---- a new edge joins -----------------------------------------------------
    e7 = new_edge("edge-7")
    rc, out, err = enroll(e7, token)
    c.check(rc == 0 and "enrolled edge-7" in out, "mw-edge enroll trades the token", out + err)
    cred_path = os.path.join(e7.data_dir, "node.credential")
    cred = json.load(open(cred_path)) if os.path.exists(cred_path) else {}
    c.check(oct(os.stat(cred_path).st_mode & 0o777) == "0o600" if cred else False,
            "the credential file is mode 0600")
    c.check(cred.get("node") == "edge-7" and cred.get("token", "").startswith("mwn_") and
            cred.get("hub_url") == hub.url and cred.get("labels") == {"line": "3",
                                                                    "site": "north"},
            "it holds the node, its own token, the hub and the labels", repr(cred)[:200])
    rc, out, err = enroll(e7, token)
    c.check(rc == 1 and "enrolled already" in err, "enrolling twice on one edge says so", err)
    e7.start()
    r = e7.post_events([event(i) for i in range(20)])
    c.eq(r.status, 201, "the enrolled edge takes events")
    c.check(e7.wait_drained(30), "and the hub acknowledges them, sent with the credential")
    c.eq(len(hub.events("edge-7")), 20, "the hub holds the 20 events of edge-7")
    rc, out, err = mw("enroll", "list")
    c.check("north" not in out, "a used token is no longer listed", out)

    # ---- what refuses -----------------------------------------------------------
    e8 = new_edge("edge-8")
    rc, out, err = enroll(e8, token)
    c.check(rc == 1 and "401" in err and "already used" in err,
            "a used token is refused, and the edge says so", err)
    c.check(not os.path.exists(os.path.join(e8.data_dir, "node.credential")),
            "and writes no credential")
    rc, out, err = mw("enroll", "create", "--ttl", "1s")
    short = out.strip()
    time.sleep(1.5)
    rc, out, err = enroll(e8, short)
    c.check(rc == 1 and "expired" in err, "an expired token is refused as expired", err)
    rc, out, err = mw("enroll", "create", "--node", "edge-9")
    bound = out.strip()
    rc, out, err = enroll(e8, bound)
    c.check(rc == 1 and "another node" in err, "a token for edge-9 does not enroll edge-8", err)
    rc, out, err = enroll(e8, "mwe_" + "0" * 64)
    c.check(rc == 1 and "not an enrollment token" in err, "an unknown token is refused", err)
    rc, out, err = mw("enroll", "create")
    again = out.strip()
    rc, out, err = enroll(new_edge("old-edge"), again)
    c.check(rc == 1 and "409" in err, "a node of the hub's nodes: setting cannot enroll", err)
    rc, out, err = enroll(e8, again, url="http://127.0.0.1:1")
    c.check(rc == 1 and "cannot reach" in err, "an unreachable hub is named", err)
    rc, out, err = enroll(e8, again)
    c.eq(rc, 0, "a fresh token enrolls edge-8")

    # ---- revocation ------------------------------------------------------------------
    rc, out, err = mw("nodes", "revoke", "old-edge")
    c.check(rc == 1 and "nodes:" in err, "a configured node is not revoked here: it says where",
            err)
    rc, out, err = mw("nodes", "revoke", "no-such-edge")
    c.check(rc == 1 and "404" in err, "revoking an unknown node is a 404", err)
    refused0 = metric(hub.metrics(), "mw_hub_batches_rejected_total", reason="auth") or 0
    rc, out, err = mw("nodes", "revoke", "edge-7")
    c.check(rc == 0 and "revoked edge-7" in out, "mw nodes revoke edge-7", out + err)
    r = e7.post_events([event(100 + i) for i in range(5)])
    c.eq(r.status, 201, "the revoked edge still records locally")
    c.check(wait_until(lambda: (metric(hub.metrics(), "mw_hub_batches_rejected_total",
                                       reason="auth") or 0) > refused0, 15),
            "its next batch is refused with 401")
    c.eq(len(hub.events("edge-7")), 20, "and nothing more of edge-7 is stored")
    c.check(e7.status()["unsent"] == 5, "the edge keeps the 5 events unsent, nothing lost")
    rc, out, err = enroll(new_edge("edge-7b"), token)
    c.check(rc == 1, "the old token stays used")

    lines = json.loads(mw("audit", "--json", "--limit", "1000")[1]).get("lines", [])
    seen = {(a["action"], a["result"], a["target"]) for a in lines}
    for want in [("enroll.create", "ok", ""), ("enroll", "ok", "edge-7"),
                 ("enroll", "denied", "edge-8"), ("node.revoke", "ok", "edge-7")]:
        c.check(want in seen, "the audit log has %s %s %s" % want)
    denied = [a for a in lines if a["action"] == "enroll" and a["result"] == "denied"]
    c.check(any("already used" in a["detail"] for a in denied),
            "a refused enrollment says why in the audit log")
    c.check(not any("mwe_" in json.dumps(a) or "mwn_" in json.dumps(a) for a in lines),
            "no token in the audit log")


if __name__ == "__main__":
    run("test_enroll", body)
