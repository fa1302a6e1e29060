"""test_worker.py -- mw-edge supervises its vision worker and shows its cameras.

The real worker (mw-edge-vision) is replaced by a small Python script named
by `vision.worker`: it records its argv and pid, reports a camera to the
daemon with PUT /v1/cameras over the unix socket (token read from
DATA_DIR/api.token, as the real worker does), and then sleeps, stops
reporting or exits, as a control file written by this test says.

Checked: with no cameras no worker starts; with one camera the daemon starts
`run` with its own options; the camera shows in /v1/status and /metrics
(promtool accepts them); a worker killed with SIGKILL or exiting with a code
is started again, counted in restarts (status and metrics), and logged with
its signal or status, while POST /v1/events keeps working; a camera not
reported for 10 s turns "unknown"; bad PUT bodies get 400 naming the field;
SIGTERM to the daemon stops the worker with SIGTERM and leaves no process;
`mw-edge analyze ...` execs the worker with the arguments untouched, and
without a worker says where it looked.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, event, http, log, metric, run, wait_until  # noqa: E402

STALE_S = 10  # API_CAMERA_STALE_MS

WORKER = r'''#!/usr/bin/env python3
# A stand-in for mw-edge-vision, driven by control.json beside it.
import http.client, json, os, signal, socket, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))

def note(rec):
    rec["pid"] = os.getpid()
    with open(os.path.join(HERE, "starts.jsonl"), "a") as f:
        f.write(json.dumps(rec) + "\n")

def control():
    with open(os.path.join(HERE, "control.json")) as f:
        return json.load(f)

class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.unix_path = path
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.unix_path)
        self.sock = s

def report(ctl, n):
    with open(os.path.join(ctl["data_dir"], "api.token")) as f:
        token = f.read().strip()
    cam = {"id": "cam1", "state": "running", "frames_in": 25 * n, "frames_analysed": 24 * n,
           "frames_dropped": n, "reconnects": 0, "fps_in": 25.0, "fps_analysed": 24.0,
           "events": n, "width": 640, "height": 480, "last_error": ""}
    conn = UnixConn(os.path.join(ctl["data_dir"], "edge.sock"))
    conn.request("PUT", "/v1/cameras", json.dumps({"cameras": [cam]}),
                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    with open(os.path.join(HERE, "puts.log"), "a") as f:
        f.write("%d\n" % status)

def on_term(sig, frame):
    note({"event": "sigterm"})
    sys.exit(0)

note({"event": "start", "argv": sys.argv[1:]})
if sys.argv[1:2] != ["run"]:
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
n = 0
while True:
    ctl = control()
    if ctl.get("exit") is not None:
        sys.exit(ctl["exit"])
    if ctl.get("report"):
        n += 1
        try:
            report(ctl, n)
        except OSError:
            pass
    time.sleep(0.3)
'''

CAMERAS = '''cameras:
  - id: cam1
    url: "sim://conveyor?seed=1"
'''


class VisionEdge(Edge):
    """An edge whose YAML may hold a cameras list (mwtest writes only maps),
    started as `mw-edge run --config FILE --log-level info`."""

    def __init__(self, workdir, name, worker, cameras, extra=None):
        self.cameras = cameras
        cfg = {"vision": {"worker": worker}, "api": {"token": None}}
        cfg.update(extra or {})
        super().__init__(workdir, name, name=name, extra=cfg)
        self.token = None

    def write_config(self):
        super().write_config()
        if self.cameras:
            with open(self.config_path, "a") as f:
                f.write(CAMERAS)

    def args(self):
        return [os.path.join(BIN, self.prog), "run", "--config", self.config_path,
                "--log-level", "info"]

    def start(self, timeout=30):
        super().start(timeout)
        with open(os.path.join(self.data_dir, "api.token")) as f:
            self.token = f.read().strip()
        return self

    def put_cameras(self, body, token=""):
        return http("PUT", self.url + "/v1/cameras", body,
                    token=self.token if token == "" else token)


class Worker:
    """The stand-in worker's directory: script, control file and records."""

    def __init__(self, workdir, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "fake-vision")
        with open(self.path, "w") as f:
            f.write(WORKER)
        os.chmod(self.path, os.stat(self.path).st_mode | stat.S_IXUSR)
        self.ctl = {"report": True, "exit": None}

    def control(self, data_dir=None, **kw):
        if data_dir:
            self.ctl["data_dir"] = data_dir
        self.ctl.update(kw)
        tmp = os.path.join(self.dir, "control.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.ctl, f)
        os.rename(tmp, os.path.join(self.dir, "control.json"))

    def records(self, kind=None):
        try:
            with open(os.path.join(self.dir, "starts.jsonl")) as f:
                recs = [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []
        return [r for r in recs if kind is None or r.get("event") == kind]

    def puts(self):
        try:
            with open(os.path.join(self.dir, "puts.log")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def camera(edge):
    cams = edge.status().get("cameras") or []
    return cams[0] if cams else None


def expect_400(c, edge, body, names, what):
    r = edge.put_cameras(body)
    if c.eq(r.status, 400, "PUT /v1/cameras %s -> 400" % what):
        c.check(names in r.err(), "%s: error names %s" % (what, names), r.err())


def promtool(c, text):
    if not shutil.which("promtool"):
        c.check(False, "promtool found (Debian package prometheus; `make deps`)")
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    c.check(p.returncode == 0, "promtool check metrics accepts the camera metrics",
            p.stdout.decode(errors="replace"))


def no_cameras(c):
    w = Worker(c.workdir, "worker-none")
    edge = VisionEdge(c.workdir, "edge-none", w.path, cameras=False)
    w.control(edge.data_dir)
    edge.start()
    r = edge.post_events([event(1)])
    c.eq(r.status, 201, "no cameras: the edge serves")
    time.sleep(1.5)  # the worker would start right after the API
    c.eq(w.records(), [], "no cameras: no worker started")
    c.check("vision worker" not in edge.log_tail(200), "no cameras: no worker in the log")
    st = edge.status()
    c.eq(st.get("vision_worker"), {"running": False, "pid": 0, "restarts": 0},
         "no cameras: status vision_worker not running")
    c.eq(st.get("cameras"), [], "no cameras: status cameras empty")
    c.eq(metric(edge.metrics(), "mw_edge_vision_worker_up"), 0, "no cameras: worker_up 0")
    c.eq(edge.stop(), 0, "no cameras: edge exits 0")


def started(c, edge, w):
    rec = wait_until(lambda: w.records("start"), 20)
    if not rec:
        c.fatal("the worker was not started; daemon log:\n" + edge.log_tail())
    c.eq(rec[0]["argv"], ["run", "--config", edge.config_path, "--log-level", "info"],
         "worker started as `run` with the daemon's own options")
    pid = rec[0]["pid"]
    st = wait_until(lambda: edge.status()["vision_worker"]["running"] and edge.status(), 10)
    c.check(st and st["vision_worker"]["pid"] == pid,
            "status vision_worker: running with the worker's pid", st and st["vision_worker"])
    return pid


def camera_shown(c, edge, w):
    cam = wait_until(lambda: camera(edge) if camera(edge)["state"] == "running" else None, 10)
    c.check(cam is not None, "the camera the worker reported shows in /v1/status", camera(edge))
    if cam:
        c.eq((cam["id"], cam["fps_in"], cam["width"], cam["height"], cam["last_error"]),
             ("cam1", 25.0, 640, 480, ""), "status camera: id, fps_in, size, last_error")
        c.check(cam["frames_in"] > 0 and cam["frames_in"] == 25 * cam["events"],
                "status camera: counters as reported", cam)
    c.check(w.puts() and set(w.puts()) == {204}, "PUT /v1/cameras answered 204", w.puts()[:5])
    m = edge.metrics()
    c.eq(metric(m, "mw_edge_camera_up", camera="cam1"), 1, "metric camera_up{cam1} 1")
    c.eq(metric(m, "mw_edge_camera_fps_in", camera="cam1"), 25, "metric camera_fps_in 25")
    c.eq(metric(m, "mw_edge_camera_fps_analysed", camera="cam1"), 24,
         "metric camera_fps_analysed 24")
    fin = metric(m, "mw_edge_camera_frames_in_total", camera="cam1")
    ev = metric(m, "mw_edge_camera_events_total", camera="cam1")
    c.check(fin and ev and fin == 25 * ev, "metric camera frames_in_total as reported",
            (fin, ev))
    for name in ("frames_analysed_total", "frames_dropped_total", "reconnects_total"):
        c.check(metric(m, "mw_edge_camera_" + name, camera="cam1") is not None,
                "metric mw_edge_camera_%s present" % name)
    c.eq(metric(m, "mw_edge_vision_worker_up"), 1, "metric vision_worker_up 1")
    promtool(c, m)


def wait_restarts(edge, w, n):
    """Waits for restart n: the status says so and the new worker wrote its record."""
    def ok():
        vw = edge.status()["vision_worker"]
        recs = w.records("start")
        return (vw if vw["restarts"] >= n and vw["running"] and len(recs) > n
                and recs[-1]["pid"] == vw["pid"] else None)
    return wait_until(ok, 30, 0.1)


def kill_restart(c, edge, w, pid):
    os.kill(pid, signal.SIGKILL)
    r = edge.post_events([event(2), event(3)])
    c.eq(r.status, 201, "POST /v1/events accepted right after the worker was killed")
    vw = wait_restarts(edge, w, 1)
    c.check(vw is not None, "killed worker restarted (status restarts 1, running)",
            edge.status()["vision_worker"])
    recs = w.records("start")
    c.check(len(recs) == 2 and recs[1]["pid"] != pid and vw and vw["pid"] == recs[1]["pid"],
            "a new worker process, its pid in the status", recs)
    c.eq(metric(edge.metrics(), "mw_edge_vision_worker_restarts_total"), 1,
         "metric vision_worker_restarts_total 1")
    c.check(wait_until(lambda: "signal=SIGKILL" in edge.log_tail(200), 5),
            "the daemon logged the worker's death by SIGKILL")
    return recs[-1]["pid"]


def exit_restart(c, edge, w):
    w.control(exit=3)
    c.check(wait_until(lambda: "status=3" in edge.log_tail(200), 10),
            "the daemon logged the worker's exit status 3", edge.log_tail(20))
    w.control(exit=None)
    vw = wait_restarts(edge, w, 2)
    c.check(vw is not None, "exited worker restarted (restarts 2)",
            edge.status()["vision_worker"])
    r = edge.post_events([event(4)])
    c.eq(r.status, 201, "POST /v1/events accepted after the restarts")
    return vw["pid"] if vw else None


def stale(c, edge, w):
    n = len(w.puts())
    c.check(wait_until(lambda: len(w.puts()) > n, 10), "the restarted worker reports")
    w.control(report=False)
    c.eq(camera(edge)["state"], "running", "a fresh report shows its own state")
    cam = wait_until(lambda: camera(edge) if camera(edge)["state"] == "unknown" else None,
                     STALE_S + 10, 0.5)
    c.check(cam is not None, "camera not reported for %d s: state unknown" % STALE_S,
            camera(edge))
    c.eq(metric(edge.metrics(), "mw_edge_camera_up", camera="cam1"), 0,
         "metric camera_up{cam1} 0 when stale")
    w.control(report=True)
    c.check(wait_until(lambda: camera(edge)["state"] == "running", 10),
            "reported again: running again")


def bad_puts(c, edge):
    good = {"id": "cam1", "state": "running"}
    expect_400(c, edge, b'{"cameras": [', "body", "malformed JSON")
    expect_400(c, edge, {"cams": []}, "cams", "unknown top-level field")
    expect_400(c, edge, {"cameras": "all"}, "cameras", "cameras not an array")
    expect_400(c, edge, {"cameras": [good, dict(good, state="asleep")]}, "cameras[1].state",
               "unknown state")
    expect_400(c, edge, {"cameras": [dict(good, fps_in="fast")]}, "cameras[0].fps_in",
               "fps_in a string")
    expect_400(c, edge, {"cameras": [dict(good, frames_in=-5)]}, "cameras[0].frames_in",
               "negative frames_in")
    expect_400(c, edge, {"cameras": [dict(good, id="no spaces")]}, "cameras[0].id",
               "bad id")
    expect_400(c, edge, {"cameras": [{"state": "running"}]}, "cameras[0].id", "missing id")
    expect_400(c, edge, {"cameras": [good, good]}, "cameras[1].id", "id twice")
    expect_400(c, edge, {"cameras": [dict(good, id="c%d" % i) for i in range(65)]},
               "cameras", "65 cameras")
    c.eq(edge.put_cameras({"cameras": []}, token=None).status, 401, "PUT without token 401")
    c.eq(edge.put_cameras({"cameras": []}, token="wrong").status, 401,
         "PUT with a wrong token 401")
    c.eq(http("POST", edge.url + "/v1/cameras", {"cameras": []}, token=edge.token).status,
         405, "POST /v1/cameras 405")
    cam = camera(edge)
    c.check(cam and cam["id"] == "cam1", "bad PUTs left the last report in place", cam)


def shutdown(c, edge, w, pid):
    c.check(alive(pid), "worker alive before the daemon stops")
    c.eq(edge.stop(), 0, "SIGTERM: the daemon exits 0")
    c.check(not alive(pid), "SIGTERM: no worker process left (pid %d gone)" % pid)
    c.check(any(r["pid"] == pid for r in w.records("sigterm")),
            "the worker was stopped with SIGTERM", w.records())


def with_camera(c):
    w = Worker(c.workdir, "worker-cam")
    edge = VisionEdge(c.workdir, "edge-cam", w.path, cameras=True)
    w.control(edge.data_dir)
    edge.start()
    pid = started(c, edge, w)
    camera_shown(c, edge, w)
    pid = kill_restart(c, edge, w, pid)
    pid = exit_restart(c, edge, w) or pid
    bad_puts(c, edge)
    stale(c, edge, w)
    shutdown(c, edge, w, pid)


def subcommands(c):
    w = Worker(c.workdir, "worker-cli")
    edge = VisionEdge(c.workdir, "edge-cli", w.path, cameras=True)
    mw_edge = os.path.join(BIN, "mw-edge")
    p = subprocess.Popen([mw_edge, "analyze", "--config", edge.config_path, "--foo", "x y",
                          "in.mp4"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c.eq(p.wait(30), 0, "mw-edge analyze: the worker's exit code")
    recs = w.records("start")
    c.eq(recs and recs[-1]["argv"],
         ["analyze", "--config", edge.config_path, "--foo", "x y", "in.mp4"],
         "mw-edge analyze execs the worker with the arguments untouched")
    c.check(bool(recs) and recs[-1]["pid"] == p.pid,
            "exec, not a child: the worker ran as the same process")
    p = subprocess.run([mw_edge, "train", "--set", "vision.worker=" + w.path, "--camera", "c1",
                        "good.mp4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    recs = w.records("start")
    c.eq(recs and recs[-1]["argv"], ["train", "--set", "vision.worker=" + w.path, "--camera",
                                     "c1", "good.mp4"],
         "mw-edge train (no config) execs the worker named by --set vision.worker")
    # A copy of mw-edge with no worker beside it says where it looked.
    lone = os.path.join(c.workdir, "lone")
    os.makedirs(lone)
    shutil.copy2(mw_edge, lone)
    p = subprocess.run([os.path.join(lone, "mw-edge"), "analyze", "in.mp4"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode(errors="replace")
    log("missing worker: rc %d, stderr: %s" % (p.returncode, err.strip()))
    c.eq(p.returncode, 127, "missing worker: exit 127")
    c.check(os.path.join(lone, "mw-edge-vision") in err,
            "missing worker: the error names where it looked", err)
    p = subprocess.run([mw_edge, "--help"], stdout=subprocess.PIPE, timeout=30)
    out = p.stdout.decode()
    c.check("mw-edge analyze --config FILE INPUT..." in out and
            "mw-edge train --config FILE --camera ID INPUT" in out,
            "--help shows analyze and train", out[:400])


def body(c):
    subcommands(c)
    no_cameras(c)
    with_camera(c)


run("test_worker", body)
