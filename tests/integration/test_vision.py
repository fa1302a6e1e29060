"""test_vision.py -- cameras, end to end, with real mw-hub, mw-edge and
mw-edge-vision processes.

A generated clip of the simulated line (mw-scene: parts on a conveyor,
people walking into a danger zone, with its ground truth) is played as a
camera with a safety zone and a count line reading Data Matrix codes.
Beside it run three cameras that cannot work: a missing file, a file of
random bytes, and a zone that lies outside the frame. What a user must see:
- the good camera's intrusions reach the hub, one per person who entered
  the zone, each with a JPEG snapshot the hub serves; its parts are counted
  with their serial codes;
- each broken camera reports its own error, naming the camera and the
  cause, in the edge's /v1/status, /metrics and as camera.status events,
  and never stops the good one;
- a crash of the worker (kill -9) is followed by a restart, and the edge
  keeps accepting events meanwhile;
- `mw-edge analyze` on the same clip finds the same intrusions.
"""
import json
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, event, http, metric, run, wait_until  # noqa: E402

W, H, FPS, SECONDS = 640, 360, 10, 30


def make_clip(workdir):
    out = os.path.join(workdir, "line.mp4")
    truth = os.path.join(workdir, "line.json")
    subprocess.run([os.path.join(BIN, "mw-scene"), "--width", str(W), "--height", str(H),
                    "--fps", str(FPS), "--seconds", str(SECONDS), "--seed", "3",
                    "--people-per-min", "6", "--parts-per-min", "30", "--noise", "2",
                    "--code", "datamatrix", "--out", out, "--truth", truth],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with open(truth) as f:
        return out, json.load(f)


def cameras(workdir, clip, truth):
    junk = os.path.join(workdir, "junk.mp4")
    with open(junk, "wb") as f:
        f.write(random.Random(7).randbytes(200000))
    zone = {"name": "robot-cell", "polygon": truth["zone"]}
    return [
        {"id": "line-cam", "url": clip, "zones": [zone],
         "motion": {"scale": 2, "min_area": 100},   # a person is ~350 px at 640x360
         "count": {"line": truth["line"], "codes": "datamatrix"}},
        {"id": "lost-cam", "url": os.path.join(workdir, "no-such.mp4"),
         "reconnect": {"min": "100ms", "max": "500ms"}},
        {"id": "junk-cam", "url": junk, "reconnect": {"min": "100ms", "max": "500ms"}},
        {"id": "zone-cam", "url": clip, "loop": True,
         "zones": [{"name": "off-frame", "polygon": [[10, 10], [W + 200, 10], [10, 50]]}]},
    ]


def camera(status, cid):
    for cam in status.get("cameras", []):
        if cam["id"] == cid:
            return cam
    return {}


def entered(truth):
    """People who enter the zone within the clip."""
    return [p for p in truth["people"] if p["enter_frame"] < truth["frames"]]


def body(c):
    clip, truth = make_clip(c.workdir)
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1"}).start()
    cams = cameras(c.workdir, clip, truth)
    edge = Edge(c.workdir, "edge-1", hub, extra={"cameras": cams}).start()

    # The good camera plays the clip once, in real time.
    def done():
        cam = camera(edge.status(), "line-cam")
        return cam if cam.get("state") == "ended" else None
    cam = wait_until(done, SECONDS + 60, 0.5)
    c.check(cam and cam["frames_in"] == truth["frames"],
            "the good camera read every frame of the clip", cam)

    st = edge.status()
    lost, junk, zcam = (camera(st, i) for i in ("lost-cam", "junk-cam", "zone-cam"))
    c.check(lost.get("state") in ("reconnecting", "connecting") and
            "no such file" in lost.get("last_error", "") and lost.get("reconnects", 0) >= 1,
            "a missing file: the camera retries and says why", lost)
    c.check("invalid data" in junk.get("last_error", "") or
            "no video" in junk.get("last_error", ""),
            "random bytes: the camera says the data is not a video", junk)
    c.check(zcam.get("state") == "failed" and "off-frame" in zcam.get("last_error", "") and
            "outside" in zcam.get("last_error", ""),
            "a zone outside the frame: the camera fails, naming the zone", zcam)
    m = edge.metrics()
    c.eq(metric(m, "mw_edge_camera_up", camera="zone-cam"), 0, "metrics: zone-cam is down")
    c.check(metric(m, "mw_edge_camera_frames_analysed_total", camera="line-cam") +
            metric(m, "mw_edge_camera_frames_dropped_total", camera="line-cam") ==
            truth["frames"], "metrics: line-cam's frames were all analysed or counted as dropped")

    # What reached the hub.
    edge.wait_drained(60)
    evs = hub.events("edge-1")
    intr = [e for e in evs if e["kind"] == "zone.intrusion" and e["source"] == "line-cam"]
    people = entered(truth)
    c.eq(len(intr), len(people), "one intrusion per person entering the zone (%d)" % len(people))
    c.check(all(e["severity"] == "alarm" and e["attrs"]["zone"] == "robot-cell" and
                len(e.get("blobs", [])) == 1 for e in intr),
            "intrusions are alarms naming the zone, each with a snapshot", intr[:2])
    if intr:
        h = intr[0]["blobs"][0]
        r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            http("GET", hub.url + "/v1/blobs/" + h, token=hub.token)), 30)
        c.check(r and r.body[:3] == b"\xff\xd8\xff" and
                r.headers.get("Content-Type") == "image/jpeg",
                "the hub serves the intrusion's snapshot as a JPEG")
    counted = [e for e in evs if e["kind"] == "part.counted" and e["source"] == "line-cam"]
    crossing = [p for p in truth["parts"] if p["cross_frame"] >= 0]
    c.eq(len(counted), len(crossing), "every part crossing the line is counted")
    serials = sorted(p["serial"] for p in crossing if p["readable"])
    read = sorted(e["attrs"].get("code", {}).get("text", "") for e in counted
                  if "code" in e["attrs"])
    c.eq(read, serials, "each readable part's serial code is attached to its count")
    status_evs = [e for e in evs if e["kind"] == "camera.status"]
    c.check(any(e["source"] == "lost-cam" and e["severity"] == "warning" and
                "no such file" in e["attrs"]["last_error"] for e in status_evs),
            "the hub sees a camera.status warning naming the lost camera's error")
    c.check(any(e["source"] == "zone-cam" and e["attrs"]["state"] == "failed"
                for e in status_evs), "the hub sees the zone camera fail")

    # A crash of the worker.
    pid = st["vision_worker"]["pid"]
    os.kill(pid, 9)
    r = edge.post_events([event(1)])
    c.eq(r.status, 201, "the edge accepts events while the worker is down")
    back = wait_until(lambda: (lambda s: s if s["vision_worker"]["running"] and
                               s["vision_worker"]["pid"] != pid else None)(edge.status()), 30)
    c.check(back and back["vision_worker"]["restarts"] >= 1,
            "the worker is restarted after kill -9", back and back["vision_worker"])
    edge.stop()
    hub.stop()

    # Offline analysis of the same clip.
    p = subprocess.run([os.path.join(BIN, "mw-edge"), "analyze", "--config", edge.config_path,
                        "--camera", "line-cam", clip], capture_output=True, text=True,
                       timeout=300)
    c.eq(p.returncode, 0, "mw-edge analyze succeeds (%s)" % p.stderr.strip()[-300:])
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    c.eq(len([x for x in lines if x["kind"] == "zone.intrusion"]), len(intr),
         "analyze finds the same intrusions as the live camera")
    c.check("frames" in p.stderr, "analyze ends with a summary on stderr", p.stderr[-200:])


if __name__ == "__main__":
    run("test_vision", body)
