"""test_tls.py -- the hub serves HTTPS with its own CA; edges and mw pin it.

A real mw-hub with tls.mode auto (the default) on loopback makes its CA and
server certificate in DATA_DIR/tls; `mw --ca` logs in and reads over
https; an edge enrolls with `mw-edge enroll https://... --ca ca.pem`, pins
the CA and sends its events over https. Then what must refuse: a client
that does not trust the CA, an edge pinned to another CA (a hub that is not
the real one), plain HTTP to the TLS port, and tls.mode off on a
non-loopback address. Restarting the hub keeps its CA (edges pinned it).
"""
import json
import os
import ssl
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import BIN, Edge, Hub, event, run, run_mw, wait_until  # noqa: E402

ADMIN = "admin-static-token"


def body(c):
    hub = Hub(c.workdir, {"old-edge": "tok-old-edge-1"}, api_token=ADMIN,
              extra={"tls": {"mode": "auto"}}).start()
    url = "https://127.0.0.1:%d" % hub.port
    tls_dir = os.path.join(hub.data_dir, "tls")
    ca = os.path.join(tls_dir, "ca.pem")
    c.check(os.path.exists(ca) and os.path.exists(os.path.join(tls_dir, "server.pem")),
            "the hub made its CA and server certificate in DATA_DIR/tls")
    c.check(all(oct(os.stat(os.path.join(tls_dir, f)).st_mode & 0o777) == "0o600"
                for f in ("ca.key", "server.key")), "the private keys are mode 0600")

    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(url + "/healthz", context=ctx, timeout=10) as r:
        c.eq(r.status, 200, "a client trusting the hub's CA gets /healthz over https")
    with urllib.request.urlopen(url.replace("127.0.0.1", "localhost") + "/healthz",
                                context=ctx, timeout=10) as r:
        c.eq(r.status, 200, "the certificate names localhost too")
    try:
        urllib.request.urlopen(url + "/healthz", context=ssl.create_default_context(),
                               timeout=10)
        c.check(False, "a client that does not trust the CA is refused")
    except (urllib.error.URLError, ssl.SSLError) as e:
        c.check("CERTIFICATE_VERIFY_FAILED" in repr(e),
                "a client that does not trust the CA is refused", repr(e))
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hub.port, timeout=5)
        c.check(False, "plain HTTP to the TLS port gets no answer")
    except Exception as e:   # noqa: any failure is the point
        c.check(True, "plain HTTP to the TLS port gets no answer", repr(e))

    def mw(*args):
        return run_mw(*args, env=dict(os.environ,
                                      MW_CREDENTIALS=os.path.join(c.workdir, "creds")))

    rc, out, err = mw("--hub", url, "--ca", ca, "--token", ADMIN, "whoami")
    c.check(rc == 0 and "api.token (admin" in out, "mw --ca talks https to the hub", out + err)
    rc, out, err = mw("--hub", url, "--token", ADMIN, "whoami")
    c.check(rc == 1 and "not trusted" in err, "without --ca, mw says the hub is not trusted",
            err)
    rc, out, err = mw("--hub", url, "--ca", ca, "--token", ADMIN, "enroll", "create",
                      "--label", "line=1")
    token = out.strip()
    c.check(rc == 0 and token.startswith("mwe_"), "an enrollment token over https", out + err)

    # ---- an edge enrolls and sends over https, the CA pinned ------------------
    edge = Edge(c.workdir, "edge-tls", extra={"uplink": {"hub_url": "", "token": ""}})
    edge.write_config()

    def enroll(tok, ca_file, e=edge):
        p = subprocess.run([os.path.join(BIN, "mw-edge"), "enroll", url, tok, "--ca", ca_file,
                            "--config", e.config_path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    other = os.path.join(c.workdir, "other-ca.pem")
    other_hub = Hub(c.workdir, {"old-edge": "tok-old-edge-1"}, name="other",
                    extra={"tls": {"mode": "auto"}}).start()
    with open(os.path.join(other_hub.data_dir, "tls", "ca.pem")) as f, open(other, "w") as g:
        g.write(f.read())
    other_hub.stop()
    rc, out, err = enroll(token, other)
    c.check(rc == 1 and "not trusted" in err,
            "pinned to another CA, the edge refuses the hub (and sends no token)", err)
    c.check(not os.path.exists(os.path.join(edge.data_dir, "hub-ca.pem")),
            "and keeps no CA from the failed attempt")
    rc, out, err = enroll(token, ca)
    c.check(rc == 0 and "enrolled edge-tls" in out, "mw-edge enroll https://... --ca", out + err)
    cred = json.load(open(os.path.join(edge.data_dir, "node.credential")))
    pinned = cred.get("ca", "")
    c.check(pinned.endswith("hub-ca.pem") and open(pinned).read() == open(ca).read(),
            "the hub's CA is pinned in DATA_DIR/hub-ca.pem", repr(cred)[:200])
    edge.start()
    r = edge.post_events([event(i) for i in range(10)])
    c.eq(r.status, 201, "the edge takes events")
    c.check(edge.wait_drained(30), "and the hub acknowledges them over https")

    # ---- restarts keep the CA ---------------------------------------------------
    before = open(ca).read()
    hub.stop()
    hub.start()
    c.eq(open(ca).read(), before, "a restarted hub keeps its CA")
    edge.post_events([event(100 + i) for i in range(5)])
    c.check(edge.wait_drained(30), "and the pinned edge goes on sending")
    events = json.loads(mw("--hub", url, "--ca", ca, "--token", ADMIN, "events", "--node",
                           "edge-tls", "--json", "--limit", "100")[1])
    c.eq(len(events.get("events", [])), 15, "the hub holds all 15 events, sent over https")

    # ---- plain HTTP only on loopback ---------------------------------------------
    p = subprocess.run([os.path.join(BIN, "mw-hub"), "--data-dir",
                        os.path.join(c.workdir, "open"), "--listen", "0.0.0.0:0", "--set",
                        "tls.mode=off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    c.check(p.returncode == 2 and b"tls.mode: off is only allowed on a loopback" in p.stderr,
            "tls.mode off on 0.0.0.0 is refused, naming the key", p.stderr.decode())


if __name__ == "__main__":
    run("test_tls", body)
