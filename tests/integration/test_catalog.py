"""test_catalog.py -- apps go into the hub's catalog; bad manifests do not.

Against a real mw-hub: `mw apps add` takes a YAML manifest (a container app
and a native one), `mw apps` lists them with their versions, `mw apps show`
gives every version's manifest; a version cannot be replaced; and a table of
malformed manifests is refused with 400 naming the field, leaving the
catalog as it was.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Hub, http, run, run_mw  # noqa: E402

ADMIN = "admin-static-token"

CONTAINER = """\
name: camera-qa
version: "1.2.0"
vendor: Acme Vision
description: Surface inspection for stamped parts
runtime:
  container:
    image: localhost/camera-qa:1.2.0
    ports: [8080, "9090:90"]
    volumes: ["/var/lib/qa:/data"]
    devices: [/dev/video0]
    env: {LOG_LEVEL: info}
parameters:
  threshold: {type: number, default: 0.8, min: 0, max: 1, description: defect score}
  mode: {type: enum, choices: [fast, exact], default: fast}
  api_key: {type: string, secret: true}
peripherals: [camera]
resources: {cpu: 0.5, memory: 256M}
"""

NATIVE = """\
name: vibration-fft
version: 0.3.1
vendor: Plant IT
runtime:
  native:
    command: [/usr/local/bin/vibration-fft, --window, "1024"]
parameters:
  window: {type: integer, default: 1024, min: 64, max: 65536}
"""

BAD = [
    ("name: x\n", "version: required"),
    (CONTAINER.replace("vendor: Acme Vision\n", ""), "vendor: required"),
    (CONTAINER.replace("name: camera-qa", "name: Camera QA"), "name: a-z 0-9"),
    (CONTAINER.replace('version: "1.2.0"', "version: 1.2"), "version: a non-empty string"),
    (CONTAINER.replace('version: "1.2.0"', 'version: "v1"'), "version: starts with a digit"),
    (CONTAINER + "colour: red\n", "colour: unknown field"),
    (CONTAINER.replace("    image: localhost/camera-qa:1.2.0\n", ""),
     "runtime.container.image: required"),
    (CONTAINER.replace("runtime:\n  container:", "runtime:\n  native: {command: [a]}\n"
                       "  container:"), "runtime: exactly one of container or native"),
    (CONTAINER.replace('"9090:90"', "70000"), "runtime.container.ports: item 1"),
    (CONTAINER.replace("LOG_LEVEL", "LOG LEVEL"), "runtime.container.env: LOG LEVEL"),
    (CONTAINER.replace("default: 0.8", "default: 1.5"),
     "parameters.threshold.default: 1.5 is over max 1"),
    (CONTAINER.replace("type: enum, choices: [fast, exact], default: fast",
                       "type: enum, choices: [fast, exact], default: slow"),
     "parameters.mode.default: not one of the choices"),
    (CONTAINER.replace("type: enum, choices: [fast, exact]", "type: enum"),
     "parameters.mode: choices: required for an enum"),
    (CONTAINER.replace("{type: string, secret: true}", "{type: text}"),
     "parameters.api_key.type: one of string"),
    (CONTAINER.replace("[camera]", "[camera, laser]"), "peripherals: item 1"),
    (CONTAINER.replace("memory: 256M", "memory: lots"), "resources.memory"),
    ("name: a\nname: b\n", "manifest: line 2: name: given twice"),
    ("base: &b {x: 1}\n", "manifest: line 1: anchors and aliases"),
    ("[1, 2", "manifest: line 2: did not find expected"),
]


def body(c):
    hub = Hub(c.workdir, {"old-edge": "tok-old-edge-1"}, api_token=ADMIN).start()

    env = dict(os.environ, MW_HUB=hub.url, MW_TOKEN=ADMIN,
               MW_CREDENTIALS=os.path.join(c.workdir, "creds"))

    def mw(*args):
        return run_mw(*args, env=env)

    def write(name, text):
        path = os.path.join(c.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    rc, out, err = mw("apps", "add", write("qa.yaml", CONTAINER))
    c.check(rc == 0 and "added camera-qa@1.2.0" in out, "mw apps add: a container app",
            out + err)
    rc, out, err = mw("apps", "add", write("fft.yaml", NATIVE))
    c.check(rc == 0 and "added vibration-fft@0.3.1" in out, "and a native one", out + err)
    rc, out, err = mw("apps", "add", write("qa2.yaml", CONTAINER.replace("1.2.0", "1.3.0")))
    c.check(rc == 0, "a second version", out + err)
    rc, out, err = mw("apps", "add", write("qa-again.yaml", CONTAINER))
    c.check(rc == 1 and "409" in err and "never changes" in err,
            "a version that is there cannot be replaced", err)
    rc, out, err = mw("apps")
    line = [ln for ln in out.splitlines() if ln.startswith("camera-qa")]
    c.check(rc == 0 and line and "1.2.0 1.3.0" in line[0] and "Acme Vision" in line[0] and
            "vibration-fft" in out, "mw apps lists both apps with their versions", out)
    rc, out, err = mw("apps", "show", "camera-qa", "--json")
    shown = json.loads(out or "{}")
    versions = [v["version"] for v in shown.get("versions", [])]
    c.check(versions == ["1.2.0", "1.3.0"] and
            shown["versions"][0]["manifest"]["parameters"]["threshold"]["max"] == 1,
            "mw apps show gives every version's manifest", out[:200])
    rc, out, err = mw("apps", "show", "no-such-app")
    c.check(rc == 1 and "404" in err, "an unknown app is a 404", err)

    before = http("GET", hub.url + "/v1/apps", token=ADMIN).json
    wrong = []
    for text, want in BAD:
        r = http("POST", hub.url + "/v1/apps", text, token=ADMIN,
                 headers={"Content-Type": "application/yaml"})
        if r.status != 400 or not r.err().startswith(want):
            wrong.append("%r -> %r (want 400 %r)" % (text[:40], r, want))
    c.check(not wrong, "%d malformed manifests: 400 naming the field" % len(BAD),
            "\n".join(wrong))
    c.eq(http("GET", hub.url + "/v1/apps", token=ADMIN).json, before,
         "and the catalog is as it was")
    lines = json.loads(mw("audit", "--json", "--limit", "1000")[1]).get("lines", [])
    c.check(any(a["action"] == "app.add" and a["target"] == "camera-qa@1.2.0" and
                a["result"] == "ok" for a in lines), "adding an app is in the audit log")


if __name__ == "__main__":
    run("test_catalog", body)
