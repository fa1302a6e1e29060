"""mwtest.py -- shared helpers for Millwright's integration tests.

The integration tests drive the real daemons: each test starts mw-hub and
mw-edge on loopback in a temporary directory under /tmp, talks to them over
HTTP as a producer, an edge or an operator would, and kills or restarts them
to see what survives. Nothing is mocked, so these helpers only do the dull
parts: write the YAML configs, start a daemon and wait for the address file it
writes once it listens, keep each daemon's log in a file (printed when a check
fails), speak JSON over HTTP with a bearer token, and count checks.

Only the Python standard library is used. ctest runs every test_*.py with
MW_BIN (the build's bin directory) and MW_SRC (the source tree) set; a test
exits 0 when all its checks pass and prints `N passed, M failed` last.
"""
import hashlib
import http.client as httpclient
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

SRC = os.environ.get("MW_SRC") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MW_BIN") or os.path.join(SRC, "build-check", "bin")

SEVERITIES = ["debug", "info", "warning", "alarm"]
SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}

_daemons = []   # every daemon started by this test, for cleanup and logs


def log(msg):
    print(msg, flush=True)


def figure(name, value, unit):
    """A measured figure, one a line, for the report."""
    log("figure %s %s %s" % (name, value, unit))


# ---------------------------------------------------------------- checks

class Checks:
    """Counts checks; the last line a test prints is `N passed, M failed`."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="mw-integ-%s-" % name, dir="/tmp")
        log("%s: work dir %s" % (name, self.workdir))

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            log("ok    %s" % what)
        else:
            self.failed += 1
            log("FAIL  %s%s" % (what, (": " + str(detail)) if detail != "" else ""))
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, what, "got %r, want %r" % (got, want))

    def fatal(self, what):
        """A failure after which the test cannot go on."""
        self.failed += 1
        log("FAIL  %s" % what)
        self.finish()

    def finish(self):
        stop_all()
        if self.failed:
            dump_logs()
            log("%s: work dir kept: %s" % (self.name, self.workdir))
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        log("%s: %.1f s" % (self.name, time.monotonic() - self.t0))
        log("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(0 if self.failed == 0 else 1)


def run(name, body):
    """Runs body(checks); an exception counts as one failure, logs printed."""
    c = Checks(name)
    try:
        body(c)
    except SystemExit:
        raise
    except BaseException:   # noqa: keyboard interrupts too: clean up daemons
        traceback.print_exc()
        c.failed += 1
        log("FAIL  %s raised an exception (above)" % name)
    c.finish()


def wait_until(pred, timeout, interval=0.05):
    """Polls pred until it returns something true; returns that or None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except (OSError, ValueError, KeyError, TypeError):
            v = None
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP

class Resp:
    def __init__(self, status, body=b"", headers=None, error=None):
        self.status = status      # None: no answer (refused, reset, timeout)
        self.body = body
        self.headers = headers or {}
        self.error = error
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def err(self):
        """The `error` text of a 4xx/5xx JSON body ('' when absent)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), str):
            return self.json["error"]
        return ""

    def __repr__(self):
        if self.status is None:
            return "<no answer: %s>" % self.error
        return "<%s %s>" % (self.status, self.body[:300])


def http(method, url, body=None, token=None, headers=None, timeout=15):
    """One request; never raises for HTTP statuses or connection errors."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Resp(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as e:
        try:
            data = e.read()
        except (OSError, httpclient.HTTPException):
            data = b""
        return Resp(e.code, data, dict(e.headers or {}))
    except (urllib.error.URLError, OSError, httpclient.HTTPException) as e:
        return Resp(None, error=repr(e))


def run_mw(*args, env=None, stdin="", timeout=60):
    """Runs the `mw` CLI with env (the whole environment: a dict) and stdin;
    (exit code, stdout, stderr) as text."""
    p = subprocess.run([os.path.join(BIN, "mw")] + list(args), input=stdin.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=os.environ if env is None else env, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def app_processes(app):
    """{pid: environment} of the processes an edge started as app (their
    environment has MW_APP=app), to see what runs without asking the edge."""
    found = {}
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/environ" % p, "rb") as f:
                env = dict(kv.split("=", 1) for kv in f.read().decode("latin-1").split("\0")
                           if "=" in kv)
        except (OSError, ValueError):
            continue
        if env.get("MW_APP") == app:
            found[int(p)] = env
    return found


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- config

def to_yaml(obj, indent=0):
    """Nested dicts of scalars and lists as YAML; strings and lists in JSON style."""
    out = []
    pad = "  " * indent
    for k, v in obj.items():
        if isinstance(v, dict):
            out.append("%s%s:" % (pad, k))
            out.append(to_yaml(v, indent + 1))
        elif isinstance(v, bool):
            out.append("%s%s: %s" % (pad, k, "true" if v else "false"))
        elif isinstance(v, list):  # JSON is YAML's flow style
            out.append("%s%s: %s" % (pad, k, json.dumps(v)))
        elif isinstance(v, (int, float)):
            out.append("%s%s: %s" % (pad, k, v))
        else:
            out.append("%s%s: %s" % (pad, k, json.dumps(str(v))))
    return "\n".join(x for x in out if x != "")


def merge(base, extra):
    """Deep-merges extra (nested dicts or dotted keys) into base."""
    for k, v in (extra or {}).items():
        if "." in k and not isinstance(v, dict):
            head, rest = k.split(".", 1)
            merge(base.setdefault(head, {}), {rest: v})
        elif isinstance(v, dict):
            merge(base.setdefault(k, {}), v)
        elif v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


# ---------------------------------------------------------------- daemons

class StartError(Exception):
    def __init__(self, msg, rc=None):
        super().__init__(msg)
        self.rc = rc


class Daemon:
    """One mw-hub or mw-edge process; restartable on the same data dir."""

    prog = None
    addr_name = None

    def __init__(self, workdir, name, config):
        self.name = name
        self.dir = os.path.join(workdir, name)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.config = config
        self.config_path = os.path.join(self.dir, "config.yaml")
        self.log_path = os.path.join(self.dir, "log")
        self.addr_path = os.path.join(self.data_dir, self.addr_name)
        self.proc = None
        self.addr = None
        self.starts = 0
        self.exit_codes = []    # of graceful stops
        self.write_config()
        _daemons.append(self)

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config) + "\n")

    @property
    def url(self):
        return "http://" + self.addr

    def args(self):
        return [os.path.join(BIN, self.prog), "--config", self.config_path]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=30):
        """Starts and waits for the address file; raises StartError."""
        if os.path.exists(self.addr_path):
            os.unlink(self.addr_path)
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(("--- start %d: %s\n" % (self.starts, " ".join(self.args()))).encode())
        logf.flush()
        self.proc = subprocess.Popen(self.args(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        addr = wait_until(self._read_addr, timeout, 0.02)
        if not addr:
            rc = self.proc.poll()
            if rc is None:
                self.kill9()
            raise StartError("%s did not write %s within %ds (exit %s); log tail:\n%s" %
                             (self.name, self.addr_path, timeout, rc, self.log_tail()))
        self.addr = addr
        return self

    def _read_addr(self):
        if self.proc.poll() is not None:
            raise StartError("%s exited with %s at start; log tail:\n%s" %
                             (self.name, self.proc.returncode, self.log_tail()),
                             self.proc.returncode)
        with open(self.addr_path) as f:
            m = re.match(r"^\s*(127\.0\.0\.1:\d+)\s*$", f.read())
        return m.group(1) if m else None

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if not self.running():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log("%s did not exit within %ds of SIGTERM; killing" % (self.name, timeout))
            self.kill9()
            rc = None
        self.exit_codes.append(rc)
        return rc

    def kill9(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout=30):
        self.stop()
        return self.start(timeout)

    def get(self, path, token="", timeout=15):
        return http("GET", self.url + path, token=self.token if token == "" else token,
                    timeout=timeout)

    def post(self, path, body, token="", headers=None, timeout=15):
        return http("POST", self.url + path, body,
                    token=self.token if token == "" else token,
                    headers=headers, timeout=timeout)

    def metrics(self):
        r = self.get("/metrics")
        if r.status != 200:
            raise AssertionError("%s GET /metrics: %r" % (self.name, r))
        return r.body.decode()

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(data[-lines:])


class Hub(Daemon):
    prog = "mw-hub"
    addr_name = "hub.addr"

    def __init__(self, workdir, nodes, api_token="api-secret", name="hub", extra=None):
        self.port = free_port()
        self.token = api_token
        self.nodes = dict(nodes)
        cfg = {"listen": "127.0.0.1:%d" % self.port,
               "data_dir": os.path.join(workdir, name, "data"),
               "nodes": dict(nodes),
               "tls": {"mode": "off"}}   # plain HTTP on loopback: test_tls.py does TLS
        if api_token:
            cfg["api"] = {"token": api_token}
        merge(cfg, extra)
        super().__init__(workdir, name, cfg)

    @property
    def fixed_url(self):
        """The URL edges are configured with: the same port across restarts."""
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=30, tries=5):
        """Starts on self.port. The first start picks another free port when
        that one was taken meanwhile; restarts keep the port (edges know it)
        and retry while the old socket lingers."""
        for i in range(tries):
            try:
                super().start(timeout)
                self.was_up = True
                return self
            except StartError as e:
                if i == tries - 1 or e.rc == 2:   # 2: a config error, not the port
                    raise
                if not getattr(self, "was_up", False):
                    self.port = free_port()
                    self.config["listen"] = "127.0.0.1:%d" % self.port
                    self.write_config()
                time.sleep(0.5)
        return self

    def db_path(self):
        return os.path.join(self.data_dir, "hub.db")

    def events(self, node, **filters):
        """Every event of node the hub holds, following the cursor."""
        out = []
        after = None
        while True:
            q = {"node": node, "limit": 1000}
            q.update(filters)
            if after is not None:
                q["after"] = after
            r = self.get("/v1/events?" + urllib.parse.urlencode(q), timeout=60)
            if r.status != 200 or not isinstance(r.json, dict):
                raise AssertionError("hub GET /v1/events: %r" % r)
            out.extend(r.json.get("events") or [])
            after = r.json.get("next")
            if not after:
                return out

    def breaks(self):
        """The chain.break events the hub recorded."""
        return self.events("hub", kind="chain.break")

    def node(self, node):
        r = self.get("/v1/nodes")
        if r.status != 200:
            raise AssertionError("hub GET /v1/nodes: %r" % r)
        for n in r.json.get("nodes", []):
            if n.get("node") == node:
                return n
        return None


class Edge(Daemon):
    prog = "mw-edge"
    addr_name = "edge.addr"

    def __init__(self, workdir, node_id, hub=None, hub_url=None, token="edge-api-secret",
                 name=None, extra=None):
        name = name or node_id
        self.node_id = node_id
        self.token = token
        cfg = {"node": {"id": node_id},
               "data_dir": os.path.join(workdir, name, "data"),
               "store": {"sync": "normal"},
               "api": {"listen": "127.0.0.1:0", "token": token},
               "uplink": {"hub_url": hub_url or (hub.fixed_url if hub else
                                                 "http://127.0.0.1:%d" % free_port()),
                          "token": hub.nodes[node_id] if hub else "no-hub",
                          "backoff_min": "50ms", "backoff_max": "500ms"}}
        merge(cfg, extra)
        super().__init__(workdir, name, cfg)

    def db_path(self):
        return os.path.join(self.data_dir, "events.db")

    def status(self):
        r = self.get("/v1/status")
        if r.status != 200 or not isinstance(r.json, dict):
            raise AssertionError("edge GET /v1/status: %r" % r)
        return r.json

    def post_events(self, events, timeout=30):
        return self.post("/v1/events", {"events": events}, timeout=timeout)

    def wait_drained(self, timeout):
        """Waits until the hub acknowledged every event the edge holds."""
        def drained():
            s = self.status()
            return s if s["acked_seq"] == s["last_seq"] and s["unsent"] == 0 else None
        return wait_until(drained, timeout, 0.1)


class Podman:
    """A real `podman system service` answering the Docker Engine API on a
    unix socket in the work dir, with storage of its own (vfs, which works
    in any container) and runc (crun cannot run here), so tests never touch
    the machine's images or containers. Stopped (and its containers and
    storage removed) with the daemons."""

    CONF = ('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
            '[engine]\nruntime = "runc"\n')

    def __init__(self, workdir):
        self.name = "podman"
        self.dir = os.path.join(workdir, "podman")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "podman.sock")
        self.log_path = os.path.join(self.dir, "log")
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write(self.CONF)
        self.env = dict(os.environ, CONTAINERS_CONF=conf)
        self.base = ["podman", "--root", os.path.join(self.dir, "root"),
                     "--runroot", os.path.join(self.dir, "run"),
                     "--tmpdir", os.path.join(self.dir, "tmp"), "--storage-driver", "vfs"]
        self.proc = None
        _daemons.append(self)

    def cli(self, *args, timeout=120):
        p = subprocess.run(self.base + list(args), env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def start(self):
        if not shutil.which("podman"):
            raise StartError("podman is not installed (make deps installs podman, runc and "
                             "busybox-static)")
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.base + ["system", "service", "--time=0",
                                                  "unix://" + self.sock],
                                     env=self.env, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        if not wait_until(lambda: os.path.exists(self.sock), 30):
            raise StartError("podman system service made no socket in 30 s:\n" +
                             self.log_tail())
        return self

    def import_busybox(self, ref):
        """An image of busybox (sh, echo, sleep, env, cat) made here."""
        root = os.path.join(self.dir, "img-" + ref.replace("/", "_").replace(":", "_"))
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        for tool in ("sh", "echo", "sleep", "env", "cat", "true", "false"):
            link = os.path.join(root, "bin", tool)
            if not os.path.lexists(link):
                os.symlink("busybox", link)
        tar = root + ".tar"
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        rc, out, err = self.cli("import", tar, ref)
        if rc:
            raise StartError("podman import %s: %s" % (ref, err))

    def inspect(self, name):
        """The container's inspect JSON, or None when there is none."""
        rc, out, _ = self.cli("container", "inspect", name)
        if rc:
            return None
        j = json.loads(out or "[]")
        return j[0] if j else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        if self.running():
            self.cli("rm", "-a", "-f", "-t", "1", timeout=60)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(os.path.join(self.dir, "root"), ignore_errors=True)

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop_all():
    for d in _daemons:
        if d.running():
            d.stop(10)


def dump_logs():
    for d in _daemons:
        log("----- %s log (%s), last lines -----" % (d.name, d.log_path))
        log(d.log_tail(80))
    log("----- end of logs -----")


# ---------------------------------------------------------------- events

def event(i, severity="info", source="test/src", kind="test.event", **attrs):
    """A producer event whose attrs carry a unique id."""
    a = {"uid": "u%d" % i}
    a.update(attrs)
    return {"source": source, "kind": kind, "severity": severity, "attrs": a}


def canon(ev):
    """The canonical encoding of docs/protocol.md, for the attrs the tests
    make: ASCII strings, integers, booleans, lists and objects (reals would
    need jansson's 17-digit form, non-ASCII its upper-case \\uXXXX)."""
    attrs = json.dumps(ev.get("attrs", {}), sort_keys=True, separators=(",", ":"),
                       ensure_ascii=True)
    blobs = json.dumps([b.lower() for b in ev.get("blobs", [])], separators=(",", ":"))
    return ('{"node":"%s","seq":%d,"ts":%d,"source":"%s","kind":"%s","severity":"%s",'
            '"attrs":%s,"blobs":%s}' % (ev["node"], ev["seq"], ev["ts"], ev["source"],
                                        ev["kind"], ev["severity"], attrs, blobs)).encode()


def seal(ev, prev_hex):
    ev["prev"] = prev_hex
    ev["hash"] = hashlib.sha256(bytes.fromhex(prev_hex) + canon(ev)).hexdigest()
    return ev


def wire_chain(node, first_seq, n, prev_hex="0" * 64, severity="info", ts0=None):
    """n sealed wire events of node from first_seq, chained from prev_hex."""
    ts0 = ts0 or time.time_ns()
    out = []
    for k in range(n):
        seq = first_seq + k
        ev = {"node": node, "seq": seq, "ts": ts0 + k, "source": "py/test",
              "kind": "test.wire", "severity": severity,
              "attrs": {"n": seq, "tag": "wire"}, "blobs": []}
        seal(ev, prev_hex)
        prev_hex = ev["hash"]
        out.append(ev)
    return out


# ---------------------------------------------------------------- metrics

_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            pass
    return out


def metric(text, name, **labels):
    """Sum of the samples of name whose labels include the given ones;
    None when no sample matches."""
    total = None
    for n, lab, v in parse_metrics(text):
        if n == name and all(lab.get(k) == str(want) for k, want in labels.items()):
            total = (total or 0) + v
    return total


# ---------------------------------------------------------------- producing

class Producer:
    """Posts batches of events to an edge from a thread, as an app would,
    and records what the edge acknowledged: accepted[seq] = event posted.
    Batches that got no answer (edge killed or restarting) go to `unanswered`
    (their events may or may not be stored); other statuses to `rejected`."""

    def __init__(self, edge, batch=50, pace=0.0, limit=None, severities=None, seed=1):
        import random
        import threading
        self.edge = edge
        self.batch = batch
        self.pace = pace
        self.limit = limit            # stop after this many accepted events
        self.severities = severities  # None: all "info"
        self.rng = random.Random(seed)
        self.accepted = {}
        self.unanswered = []          # lists of events
        self.rejected = []            # Resp
        self.accepted_at = []         # (monotonic time, count) per 201
        self.next_uid = 0
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def done(self):
        return not self._thread.is_alive()

    def n_accepted(self):
        return len(self.accepted)

    def _batch(self):
        evs = []
        for _ in range(self.batch):
            sev = self.rng.choice(self.severities) if self.severities else "info"
            evs.append(event(self.next_uid, severity=sev, n=self.next_uid,
                             pad="x" * self.rng.randrange(0, 40)))
            self.next_uid += 1
        return evs

    def post_once(self):
        evs = self._batch()
        self.requests += 1
        try:
            r = self.edge.post_events(evs)
        except AttributeError:   # no address yet
            r = Resp(None, error="edge not started")
        if r.status == 201 and isinstance(r.json, dict):
            first = r.json.get("first_seq")
            last = r.json.get("last_seq")
            if (r.json.get("accepted") != len(evs) or not isinstance(first, int)
                    or last - first + 1 != len(evs)):
                self.rejected.append(r)
                return r
            for k, e in enumerate(evs):
                self.accepted[first + k] = e
            self.accepted_at.append((time.monotonic(), len(evs)))
        elif r.status is None:
            self.unanswered.append(evs)
        else:
            self.rejected.append(r)
        return r

    def _run(self):
        while not self._stop.is_set():
            if self.limit is not None and len(self.accepted) >= self.limit:
                return
            r = self.post_once()
            if r.status is None:
                time.sleep(0.02)   # edge down: retry soon, as a producer would
            elif self.pace:
                time.sleep(self.pace)

    def accepted_between(self, t0, t1):
        return sum(n for t, n in self.accepted_at if t0 <= t <= t1)


def check_delivered(c, hub, node, accepted, maybe=()):
    """Checks that the hub holds every accepted event exactly once, with its
    seq and content, nothing twice, in seq order. maybe: events whose request
    got no answer (allowed at most once). Returns the hub's events."""
    from collections import Counter
    held = hub.events(node)
    ours = [e for e in held if e.get("kind") != "store.dropped"]
    seqs = [e["seq"] for e in held]
    c.check(seqs == sorted(seqs), "hub returns %s's events in seq order" % node)
    dup_seq = [s for s, k in Counter(seqs).items() if k > 1]
    c.check(not dup_seq, "no seq twice at the hub (%d events)" % len(held),
            "duplicated seqs %s" % dup_seq[:10])
    uids = Counter(e.get("attrs", {}).get("uid") for e in ours)
    dup_uid = [u for u, k in uids.items() if k > 1]
    c.check(not dup_uid, "no producer event twice at the hub", "duplicated uids %s" % dup_uid[:10])
    by_seq = {e["seq"]: e for e in held}
    missing = [s for s in accepted if s not in by_seq]
    c.check(not missing, "all %d acknowledged events at the hub" % len(accepted),
            "%d missing, first seqs %s" % (len(missing), sorted(missing)[:10]))
    wrong = []
    for s, posted in accepted.items():
        h = by_seq.get(s)
        if h is None:
            continue
        if (h.get("attrs") != posted["attrs"] or h.get("severity") != posted["severity"]
                or h.get("source") != posted["source"] or h.get("kind") != posted["kind"]
                or h.get("node") != node):
            wrong.append((s, posted, h))
    c.check(not wrong, "hub content equals what was posted, seq for seq",
            "%d differ, first: %s" % (len(wrong), wrong[:1]))
    maybe_uids = {e["attrs"]["uid"] for b in maybe for e in b}
    acked_uids = {e["attrs"]["uid"] for e in accepted.values()}
    stray = [u for u in uids if u not in acked_uids and u not in maybe_uids]
    c.check(not stray, "hub holds no event the producer never sent", stray[:10])
    return held


def check_no_breaks(c, hub):
    br = hub.breaks()
    c.check(not br, "hub recorded no chain.break event", br[:3])
    v = metric(hub.metrics(), "mw_hub_chain_breaks_total")
    c.check(v in (None, 0), "metric mw_hub_chain_breaks_total is 0", v)
