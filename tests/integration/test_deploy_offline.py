"""test_deploy_offline.py -- edges that are away during a rollout.

A real hub and two edges. edge-2 is stopped when beacon 1.0 is deployed to
both: edge-1 runs it, the rollout waits for edge-2 and is done once edge-2
is back. Then beacon 2.0 goes to edge-2, which saves the desired state;
the hub goes away and edge-2 is killed (SIGKILL) and started again while
the hub is still down: it starts 2.0 from what it saved, and keeps it
running, cut off. When the hub returns, edge-2 reports it and the rollout
is done.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, app_processes, run, wait_until  # noqa: E402

NODES = {"edge-1": "tok-edge-1-secret", "edge-2": "tok-edge-2-secret"}


def manifest(version):
    return {"name": "beacon", "version": version, "vendor": "Millwright tests",
            "runtime": {"native": {"command": [
                "/bin/sh", "-c", "echo beacon $MW_APP_VERSION on $MW_NODE; exec sleep 1000"]}}}


def versions_running():
    return sorted(env.get("MW_NODE", "") + "=" + env.get("MW_APP_VERSION", "")
                  for env in app_processes("beacon").values())


def body(c):
    hub = Hub(c.workdir, NODES).start()
    cfg = {"heartbeat": {"interval": "300ms"},
           "apps": {"healthy": "1s", "backoff_min": "100ms", "backoff_max": "300ms"}}
    e1 = Edge(c.workdir, "edge-1", hub, token="api-edge-1", extra=cfg).start()
    e2 = Edge(c.workdir, "edge-2", hub, token="api-edge-2", extra=cfg).start()
    for v in ("1.0", "2.0"):
        c.check(hub.post("/v1/apps", manifest(v)).status == 201, "beacon %s in the catalog" % v)

    def deployment(i):
        return hub.get("/v1/deployments/%d" % i).json or {}

    # ---- edge-2 is away when the deployment is made
    e2.stop()
    r = hub.post("/v1/deployments", {"app": "beacon", "version": "1.0", "to": {"all": True},
                                     "batch_size": 2, "settle": "1s"})
    c.check(r.status == 201, "beacon 1.0 deployed to both edges", repr(r)[:200])
    dep = (r.json or {}).get("id", 0)
    c.check(wait_until(lambda: versions_running() == ["edge-1=1.0"], 15) is not None,
            "edge-1 runs it", repr(versions_running()))
    time.sleep(3)
    d = deployment(dep)
    states = {t["node"]: t["state"] for t in d.get("targets", [])}
    c.check(d.get("status") == "rolling" and states == {"edge-1": "done", "edge-2": "applying"},
            "the rollout waits for the edge that is away", repr(states))
    e2.start()
    c.check(wait_until(lambda: deployment(dep).get("status") == "done", 20) is not None,
            "edge-2 back: it converges and the rollout is done", repr(deployment(dep))[:300])
    c.check(versions_running() == ["edge-1=1.0", "edge-2=1.0"], "both run 1.0",
            repr(versions_running()))

    # ---- edge-2 gets 2.0, then is cut off and restarted
    r = hub.post("/v1/deployments", {"app": "beacon", "version": "2.0",
                                     "to": {"nodes": ["edge-2"]}, "settle": "1s"})
    dep2 = (r.json or {}).get("id", 0)
    saved = os.path.join(e2.data_dir, "desired.json")

    def has_2():
        try:
            with open(saved) as f:
                return json.load(f)["apps"]["beacon"]["version"] == "2.0"
        except (OSError, ValueError, KeyError):
            return False
    c.check(wait_until(has_2, 10) is not None, "edge-2 saved the new desired state")
    c.check(oct(os.stat(saved).st_mode & 0o777) == "0o600",
            "readable by the edge alone (parameters may be secrets)")
    hub.stop()
    e2.kill9()
    c.check(wait_until(lambda: "edge-2=1.0" not in versions_running() and
                       "edge-2=2.0" not in versions_running(), 10) is not None,
            "a killed edge leaves no app behind", repr(versions_running()))
    e2.start()
    c.check(wait_until(lambda: "edge-2=2.0" in versions_running(), 15) is not None,
            "restarted without its hub, edge-2 runs 2.0 from what it saved",
            repr(versions_running()))
    time.sleep(2)
    c.check(versions_running() == ["edge-1=1.0", "edge-2=2.0"],
            "cut off, both edges keep running their apps", repr(versions_running()))
    hub.start()
    c.check(wait_until(lambda: deployment(dep2).get("status") == "done", 20) is not None,
            "the hub back: edge-2 reports 2.0 running and the rollout is done",
            repr(deployment(dep2))[:300])
    e1.stop()
    e2.stop()
    hub.stop()


if __name__ == "__main__":
    run("deploy_offline", body)
