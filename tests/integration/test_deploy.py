"""test_deploy.py -- a native app deployed from the catalog, rolled out,
changed, failed and rolled back, and removed, with the real mw CLI.

A real hub with two edges (line=3 by label). The app is a Python program
that prints its parameter and posts an event to the edge's local API with
the address and token the edge gives it. `mw deploy --batch 1 --wait`
rolls it out one edge at a time; a parameter change replaces it; version
2.0 exits at once, so the rollout fails on the first edge, which goes back
to 1.0 by itself, and the second edge never gets 2.0; malformed requests
are refused with the field named and change nothing; removal stops it.
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, app_processes, figure, http, run, run_mw, wait_until  # noqa: E402

NODES = {"edge-1": "tok-edge-1-secret", "edge-2": "tok-edge-2-secret"}
SECRET = "s3cret-value"
APP_V1 = r"""
import json, os, sys, time, urllib.request
print("started", os.environ["MW_APP_VERSION"], "threshold=" + os.environ["MW_PARAM_THRESHOLD"],
      "mode=" + os.environ["MW_PARAM_MODE"], "key-len=%d" % len(os.environ["MW_PARAM_KEY"]),
      flush=True)
ev = {"events": [{"source": "app/ticker", "kind": "ticker.started", "severity": "info",
                  "attrs": {"threshold": os.environ["MW_PARAM_THRESHOLD"]}}]}
req = urllib.request.Request(os.environ["MW_EDGE_API"] + "/v1/events", json.dumps(ev).encode(),
                             {"Content-Type": "application/json",
                              "Authorization": "Bearer " + os.environ["MW_EDGE_TOKEN"]})
print("event", urllib.request.urlopen(req, timeout=10).status, flush=True)
while True:
    time.sleep(0.2)
"""


def manifest(version, code):
    return {"name": "ticker", "version": version, "vendor": "Millwright tests",
            "runtime": {"native": {"command": ["python3", "-c", code]}},
            "parameters": {"threshold": {"type": "number", "default": 0.5, "min": 0, "max": 1},
                           "mode": {"type": "enum", "choices": ["fast", "exact"],
                                    "default": "fast"},
                           "key": {"type": "string", "secret": True, "default": ""}}}


def body(c):
    hub = Hub(c.workdir, NODES).start()
    edge_cfg = {"heartbeat": {"interval": "300ms"},
                "apps": {"healthy": "1s", "backoff_min": "100ms", "backoff_max": "300ms",
                         "stop_grace": "2s"}}
    edges = {n: Edge(c.workdir, n, hub, token="api-" + n, extra=edge_cfg).start()
             for n in NODES}
    env = dict(os.environ, MW_HUB=hub.url, MW_TOKEN=hub.token)

    def mw(*args):
        return run_mw(*args, env=env, timeout=120)

    def report(node):
        nodes = (hub.get("/v1/nodes").json or {}).get("nodes", [])
        n = next((x for x in nodes if x["node"] == node), {})
        return ((n.get("state") or {}).get("apps") or {}).get("ticker")

    for v, code in (("1.0", APP_V1), ("2.0", "import sys; print('2.0 cannot start'); sys.exit(1)")):
        r = hub.post("/v1/apps", manifest(v, code))
        c.check(r.status == 201, "ticker %s is added to the catalog" % v, repr(r)[:200])
    for n in NODES:
        rc, out, err = mw("nodes", "label", n, "line=3", "cell=a")
        c.check(rc == 0 and '"line":"3"' in out, "mw nodes label %s line=3" % n, out + err)

    rc, out, _ = mw("nodes")
    row = next((l for l in out.splitlines() if l.startswith("edge-2 ")), "")
    c.check(rc == 0 and row.rstrip().endswith(("cell=a,line=3", "line=3,cell=a")),
            "mw nodes shows each node's labels", out)

    r = http("PATCH", hub.url + "/v1/nodes/edge-1", {"labels": {"Bad Key!": "x", "ok": "1"}},
             token=hub.token)
    rc, out, _ = mw("nodes", "label", "edge-1", "zone=")
    labels = next(n for n in hub.get("/v1/nodes").json["nodes"] if n["node"] == "edge-1")["labels"]
    c.check(r.status == 400 and (r.json or {}).get("error", "").startswith("labels.Bad Key!") and
            labels == {"line": "3", "cell": "a", "zone": ""},
            "a malformed label is refused naming it, and nothing of that request is kept",
            "%r %r" % (r, labels))
    rc, out, _ = mw("nodes", "label", "edge-1", "zone-")
    labels = next(n for n in hub.get("/v1/nodes").json["nodes"] if n["node"] == "edge-1")["labels"]
    c.check(rc == 0 and labels == {"line": "3", "cell": "a"}, "mw nodes label NODE KEY- removes",
            repr(labels))

    # an app that needs a camera, to an edge that reported it has none
    lens = dict(manifest("1.0", "print(1)"), name="lens", peripherals=["camera"])
    c.check(hub.post("/v1/apps", lens).status == 201, "lens (needs a camera) in the catalog")
    def cameras():
        nodes = (hub.get("/v1/nodes").json or {}).get("nodes", [])
        return next((n for n in nodes if n["node"] == "edge-1"), {}).get(
            "state", {}).get("peripherals", {}).get("cameras")
    cams = wait_until(lambda: cameras() is not None and [cameras()], 10)
    cams = cams[0] if cams else None
    r = hub.post("/v1/deployments", {"app": "lens", "version": "1.0",
                                     "to": {"nodes": ["edge-1"]}})
    if cams == []:
        c.check(r.status == 400 and (r.json or {}).get("error", "").startswith(
            "to: edge-1 has no camera"), "an app needing a camera is refused for an edge "
            "without one", repr(r)[:200])
    else:
        c.check(r.status == 201, "this machine has cameras: lens may go there", repr(cams))
        hub.post("/v1/deployments", {"app": "lens", "remove": True, "to": {"all": True}})

    # ---- malformed requests: 400 naming the field, nothing written
    before = hub.get("/v1/deployments").json["deployments"]
    bad = [({"app": "ticker", "version": "1.0", "to": {"all": True}, "params": {"nope": 1}},
            "params.nope"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True},
             "params": {"threshold": 1.5}}, "params.threshold"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True},
             "params": {"threshold": "high"}}, "params.threshold"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True},
             "params": {"mode": "slow"}}, "params.mode"),
           ({"app": "ticker", "version": "9.9", "to": {"all": True}}, "version"),
           ({"app": "nosuch", "version": "1.0", "to": {"all": True}}, "app"),
           ({"app": "ticker", "version": "1.0", "to": {"labels": {"line": "9"}}}, "to.labels"),
           ({"app": "ticker", "version": "1.0", "to": {"nodes": ["edge-1", "ghost"]}},
            "to.nodes[1]"),
           ({"app": "ticker", "version": "1.0", "to": {}}, "to"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True}, "batch_size": 0},
            "batch_size"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True}, "settle": "soon"},
            "settle"),
           ({"app": "ticker", "version": "1.0", "to": {"all": True}, "colour": "red"},
            "colour")]
    for req, field in bad:
        r = hub.post("/v1/deployments", req)
        err = (r.json or {}).get("error", "")
        c.check(r.status == 400 and err.startswith(field + ":"),
                "a malformed deployment is refused naming %s" % field, "%d %s" % (r.status, err))
    c.check(hub.get("/v1/deployments").json["deployments"] == before and
            all(report(n) is None for n in NODES),
            "nothing of the refused deployments was applied")

    # ---- roll out 1.0 one edge at a time
    t0 = time.time()
    rc, out, err = mw("deploy", "ticker@1.0", "--to", "line=3", "--set", "threshold=0.8",
                      "--set", "key=" + SECRET, "--batch", "1", "--settle", "1s", "--wait")
    c.check(rc == 0 and "done" in out.splitlines()[-1], "mw deploy --wait rolls 1.0 out: done",
            out + err)
    figure("deploy.rollout_2_nodes_s", round(time.time() - t0, 2), "s")
    dep = json.loads(mw("rollouts", "--json")[1])["deployments"][0]
    shown = hub.get("/v1/deployments/%d" % dep["id"]).json
    batches = {t["node"]: t["batch"] for t in shown["targets"]}
    c.check(batches == {"edge-1": 0, "edge-2": 1} and dep["progress"] == {"done": 2},
            "the two edges were two batches, both done", repr(shown)[:300])
    for n in NODES:
        rep = report(n) or {}
        c.check(rep.get("state") == "running" and rep.get("version") == "1.0" and
                any("threshold=0.8" in line for line in rep.get("log", [])),
                "%s runs 1.0 with threshold 0.8 and its log lines reach the hub" % n,
                repr(rep)[:300])
    got = wait_until(lambda: [e for e in hub.events("edge-1") if e["kind"] == "ticker.started"],
                     15)
    c.check(bool(got) and got[0]["source"] == "app/ticker" and
            got[0]["attrs"]["threshold"] == "0.8",
            "the app's event went through the edge's API to the hub", repr(got)[:200])
    rc, out, _ = mw("rollouts", "show", str(dep["id"]))
    c.check(rc == 0 and "edge-2" in out and "threshold=0.8" in out,
            "mw rollouts show lists each node with its last log lines", out[:400])
    c.check(shown["params"].get("key") == "***" and SECRET not in json.dumps(shown) and
            SECRET not in json.dumps(hub.get("/v1/deployments").json) and SECRET not in out,
            "the secret parameter is never shown back", json.dumps(shown)[:300])
    c.check(any("key-len=%d" % len(SECRET) in line for line in (report("edge-1") or {}).get("log", [])),
            "but the app has it", repr(report("edge-1"))[:300])
    modes = {f: oct(os.stat(os.path.join(hub.data_dir, f)).st_mode & 0o777)
             for f in os.listdir(hub.data_dir) if f.startswith("hub.db")}
    c.check(modes and all(m == "0o600" for m in modes.values()),
            "the hub's store (which holds it) is readable by the hub alone", repr(modes))

    # ---- a parameter change replaces the app
    rc, out, err = mw("deploy", "ticker@1.0", "--to", "edge-1,edge-2", "--set", "threshold=0.9",
                      "--set", "mode=exact", "--settle", "1s", "--wait")
    c.check(rc == 0, "changing a parameter rolls out", out + err)
    c.check(all(any("threshold=0.9 mode=exact" in line for line in (report(n) or {}).get("log", []))
                for n in NODES), "both edges run with the new parameters",
            repr([report(n) for n in NODES])[:400])

    # ---- 2.0 cannot start: rolled back by itself (watched with mw events --follow)
    follow = subprocess.Popen([os.path.join(BIN, "mw"), "events", "--follow", "--json",
                               "--kind", "rollout.rolled_back"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rc, out, err = mw("deploy", "ticker@2.0", "--to", "line=3", "--batch", "1", "--settle", "1s",
                      "--wait")
    last = out.splitlines()[-1] if out else ""
    c.check(rc == 1 and "rolled_back" in last and "exited with status 1" in last,
            "a failing update ends rolled back, and says why", out + err)
    dep2 = json.loads(mw("rollouts", "--json")[1])["deployments"][0]
    c.check(dep2["progress"] == {"failed": 1, "skipped": 1},
            "the first edge failed, the second was never touched", repr(dep2)[:300])
    back = wait_until(lambda: all((report(n) or {}).get("version") == "1.0" and
                                  (report(n) or {}).get("state") == "running" for n in NODES), 20)
    c.check(bool(back), "both edges run 1.0 again",
            repr([report(n) for n in NODES])[:300])
    c.check(any("threshold=0.9" in line for line in (report("edge-1") or {}).get("log", [])),
            "with the parameters they had", repr(report("edge-1"))[:300])
    followed = []

    def read_follow():
        followed.append(json.loads(follow.stdout.readline() or b"{}"))
        return followed
    t = threading.Thread(target=read_follow, daemon=True)
    t.start()
    t.join(10)
    follow.kill()
    follow.wait()
    c.check(len(followed) == 1 and followed[0].get("kind") == "rollout.rolled_back" and
            "exited with status 1" in followed[0].get("attrs", {}).get("reason", ""),
            "mw events --follow printed the alarm as it came", repr(followed)[:300])
    alarms = [e for e in hub.events("hub") if e["kind"] == "rollout.rolled_back"]
    c.check(len(alarms) == 1 and alarms[0]["severity"] == "alarm" and
            alarms[0]["attrs"]["node"] == "edge-1",
            "the hub raised one rollout.rolled_back alarm", repr(alarms)[:300])
    audit = hub.get("/v1/audit?limit=1000").json or {}
    acts = [a["action"] for a in audit.get("audit", audit.get("lines", []))]
    c.check("deploy" in acts and "deployment.rollback" in acts and "node.label" in acts,
            "deployments, the rollback and the labels are in the audit log", repr(acts)[-300:])

    # ---- an operator may deploy, a viewer may not
    for role, want in (("operator", 0), ("viewer", 1)):
        http("POST", hub.url + "/v1/users", {"name": role, "role": role,
                                             "password": "a long enough password"},
             token=hub.token)
        tok = http("POST", hub.url + "/v1/login", {"user": role,
                                                   "password": "a long enough password"}).json
        rc, out, err = run_mw("deploy", "ticker@1.0", "--to", "edge-1",
                              env=dict(env, MW_TOKEN=(tok or {}).get("token", "")))
        c.check(rc == want, "%s %s deploy" % (role, "may" if want == 0 else "may not"),
                out + err)

    # ---- removal
    rc, out, err = mw("deploy", "ticker", "--remove", "--to", "all", "--wait")
    c.check(rc == 0, "mw deploy ticker --remove --wait", out + err)
    gone = wait_until(lambda: all(report(n) is None for n in NODES), 15)
    c.check(bool(gone), "the app is gone from both edges' reports")
    c.check(wait_until(lambda: not app_processes("ticker"), 10) is not None,
            "and no process of it is left", repr(app_processes("ticker")))
    for e in edges.values():
        e.stop()
    hub.stop()


if __name__ == "__main__":
    run("deploy", body)
