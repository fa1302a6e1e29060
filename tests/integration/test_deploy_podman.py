"""test_deploy_podman.py -- a container app through a real Podman.

A real `podman system service` (its own storage, runc) answers the Docker
Engine API on a unix socket; the image is busybox, made here with `podman
import`. A real hub deploys app `cam` to a real edge: 1.0 runs as
container mw-cam with its parameters and the edge's API in its
environment; a parameter change replaces the container; 2.0, whose
command exits at once, and 3.0, whose image does not exist, are each
rolled back to 1.0 by themselves; removal removes the container.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, Hub, Podman, run, run_mw, wait_until  # noqa: E402

IMAGE = "localhost/mw-test-bb:1"
NODES = {"edge-1": "tok-edge-1-secret"}


def manifest(version, image, command):
    return {"name": "cam", "version": version, "vendor": "Millwright tests",
            "runtime": {"container": {"image": image, "command": command,
                                      "env": {"GREETING": "hello"}}},
            "parameters": {"mode": {"type": "enum", "choices": ["fast", "exact"],
                                    "default": "fast"}},
            "resources": {"memory": "64M"}}


def env_of(info):
    return dict(kv.split("=", 1) for kv in (info or {}).get("Config", {}).get("Env", []) or []
                if "=" in kv)


def body(c):
    podman = Podman(c.workdir).start()
    podman.import_busybox(IMAGE)
    hub = Hub(c.workdir, NODES).start()
    edge = Edge(c.workdir, "edge-1", hub, token="api-edge-1", extra={
        "heartbeat": {"interval": "300ms"},
        "apps": {"engine": podman.sock, "healthy": "2s", "backoff_min": "100ms",
                 "backoff_max": "300ms", "stop_grace": "1s"}}).start()
    env = dict(os.environ, MW_HUB=hub.url, MW_TOKEN=hub.token)
    sleeper = ["sh", "-c", "echo cam $MW_APP_VERSION mode=$MW_PARAM_MODE $GREETING; "
               "exec sleep 1000"]
    for v, img, cmd in (("1.0", IMAGE, sleeper), ("2.0", IMAGE, ["sh", "-c", "exit 3"]),
                        ("3.0", "localhost/mw-test-none:3", sleeper)):
        c.check(hub.post("/v1/apps", manifest(v, img, cmd)).status == 201,
                "cam %s in the catalog" % v)

    def deploy(*args):
        return run_mw("deploy", *args, "--to", "edge-1", "--settle", "1s", "--wait", env=env,
                      timeout=180)

    def report():
        nodes = (hub.get("/v1/nodes").json or {}).get("nodes", [])
        n = next((x for x in nodes if x["node"] == "edge-1"), {})
        return ((n.get("state") or {}).get("apps") or {}).get("cam") or {}

    rc, out, err = deploy("cam@1.0", "--set", "mode=fast")
    c.check(rc == 0, "cam 1.0 rolls out to the edge through Podman", out + err)
    info = podman.inspect("mw-cam")
    e = env_of(info)
    c.check(info is not None and info["State"]["Running"] and info["Config"]["Image"] == IMAGE,
            "container mw-cam runs the image", repr(info and info["State"])[:200])
    c.check(e.get("MW_PARAM_MODE") == "fast" and e.get("GREETING") == "hello" and
            e.get("MW_EDGE_API", "").startswith("http://127.0.0.1:") and
            e.get("MW_EDGE_TOKEN") == "api-edge-1" and e.get("MW_APP_VERSION") == "1.0",
            "with its parameters, its env and the edge's API in its environment", repr(e))
    c.check(((info or {}).get("HostConfig") or {}).get("Memory") == 64 << 20,
            "and the manifest's memory limit", repr((info or {}).get("HostConfig", {}))[:200])
    logs = wait_until(lambda: [x for x in report().get("log", []) if "mode=fast" in x], 15)
    c.check(bool(logs) and report().get("runtime") == "container",
            "its log lines reach the hub", repr(report())[:300])
    first_id = (info or {}).get("Id")

    rc, out, err = deploy("cam@1.0", "--set", "mode=exact")
    info = podman.inspect("mw-cam")
    c.check(rc == 0 and info and info["Id"] != first_id and
            env_of(info).get("MW_PARAM_MODE") == "exact" and info["State"]["Running"],
            "a parameter change replaces the container", out + err)
    good_id = (info or {}).get("Id")
    edge.stop()
    kept = podman.inspect("mw-cam")
    c.check(kept is not None and kept["State"]["Running"],
            "the container keeps running while mw-edge is stopped")
    edge.start()
    c.check(wait_until(lambda: report().get("state") == "running" and
                       report().get("deployment") == 2, 15) is not None,
            "restarted, the edge reports it running", repr(report())[:200])
    info = podman.inspect("mw-cam")
    c.check(info is not None and info["Id"] == good_id,
            "and kept the container rather than make it again",
            "%s -> %s" % (good_id, info and info["Id"]))

    rc, out, err = deploy("cam@2.0")
    last = out.splitlines()[-1] if out else ""
    c.check(rc == 1 and "rolled_back" in last and "exited with status 3" in last,
            "2.0 exits at once: rolled back, and says why", out + err)
    back = wait_until(lambda: (lambda i: i if i and i["State"]["Running"] and
                               env_of(i).get("MW_APP_VERSION") == "1.0" else None)(
        podman.inspect("mw-cam")), 20)
    c.check(back is not None and env_of(back).get("MW_PARAM_MODE") == "exact" and
            back["Id"] != good_id,
            "1.0 runs again with the parameters it had", repr(back and env_of(back)))

    rc, out, err = deploy("cam@3.0")
    last = out.splitlines()[-1] if out else ""
    c.check(rc == 1 and "rolled_back" in last and "mw-test-none" in last,
            "3.0's image cannot be had: rolled back, naming the image", out + err)
    c.check(wait_until(lambda: (podman.inspect("mw-cam") or {}).get("State", {}).get("Running")
                       and env_of(podman.inspect("mw-cam")).get("MW_APP_VERSION") == "1.0", 20)
            is not None, "and 1.0 runs again")

    rc, out, err = run_mw("deploy", "cam", "--remove", "--to", "edge-1", "--wait", env=env,
                          timeout=120)
    c.check(rc == 0, "removal rolls out", out + err)
    c.check(wait_until(lambda: podman.inspect("mw-cam") is None, 20) is not None,
            "and the container is gone")
    edge.stop()
    hub.stop()
    podman.stop()


if __name__ == "__main__":
    run("deploy_podman", body)
