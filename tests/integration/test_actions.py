"""test_actions.py -- local alarms fire on the edge without the hub.

The edge runs with actions.command (a shell line appending $MW_EVENT to a
file), actions.webhook (a small HTTP server in this test) and
actions.min_severity alarm, and with its hub away. A warning is posted, then
an alarm: the alarm must reach both the command and the webhook within a
couple of seconds, since local actions never wait on the hub, and the
warning must reach neither.
"""
import http.server
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Edge, event, figure, log, run, wait_until  # noqa: E402

DEADLINE_S = 3.0


class Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        Hook.received.append((time.monotonic(), self.path, data))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


def lines_with(path, marker):
    try:
        with open(path) as f:
            return [ln for ln in f if marker in ln]
    except OSError:
        return []


def hooks_with(marker):
    return [d for _, _, d in Hook.received if marker.encode() in d]


def body(c):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = os.path.join(c.workdir, "actions.out")
    cmd = 'printf "%%s\\n" "$MW_EVENT" >> %s' % out
    edge = Edge(c.workdir, "edge-1", hub_url="http://127.0.0.1:9", extra={
        "actions.command": cmd,
        "actions.webhook": "http://127.0.0.1:%d/hook" % srv.server_address[1],
        "actions.min_severity": "alarm"}).start()

    warn = event(1, severity="warning", kind="sensor.threshold", marker="warn-7f3a")
    r = edge.post_events([warn])
    c.eq(r.status, 201, "warning accepted with the hub down")
    t0 = time.monotonic()
    alarm = event(2, severity="alarm", kind="zone.intrusion", source="cam1/zone2",
                  marker="alarm-91c2")
    r = edge.post_events([alarm])
    c.eq(r.status, 201, "alarm accepted with the hub down")
    alarm_seq = r.json.get("first_seq") if r.json else None

    got_cmd = wait_until(lambda: lines_with(out, "alarm-91c2"), DEADLINE_S, 0.02)
    t_cmd = time.monotonic() - t0
    got_hook = wait_until(lambda: hooks_with("alarm-91c2"), DEADLINE_S, 0.02)
    t_hook = time.monotonic() - t0
    c.check(got_cmd, "actions.command ran with MW_EVENT within %.0fs" % DEADLINE_S)
    c.check(got_hook, "webhook received the alarm within %.0fs" % DEADLINE_S)
    if got_cmd:
        figure("actions.command_latency", "%.0f" % (t_cmd * 1000), "ms")
        ev = json.loads(got_cmd[0])
        c.check(ev.get("kind") == "zone.intrusion" and ev.get("severity") == "alarm" and
                ev.get("attrs", {}).get("marker") == "alarm-91c2" and
                ev.get("node") == "edge-1" and ev.get("seq") == alarm_seq,
                "MW_EVENT is the alarm event as JSON (node, seq, kind, attrs)", ev)
    if got_hook:
        figure("actions.webhook_latency", "%.0f" % (t_hook * 1000), "ms")
        try:
            ev = json.loads(got_hook[0])
        except ValueError:
            ev = {}
        ev = ev.get("event", ev) if isinstance(ev, dict) else {}
        c.check(ev.get("kind") == "zone.intrusion" and ev.get("seq") == alarm_seq,
                "webhook body is the alarm event as JSON", got_hook[0][:300])
        c.eq(len(got_hook), 1, "webhook called once for the alarm")
    time.sleep(1.0)
    c.check(not lines_with(out, "warn-7f3a"), "a warning does not run the command")
    c.check(not hooks_with("warn-7f3a"), "a warning does not call the webhook")
    st = edge.status()
    c.check(st.get("hub") != "connected" and st.get("acked_seq") == 0,
            "the hub was away all along", st)
    log("webhook calls: %d" % len(Hook.received))
    c.eq(edge.stop(), 0, "edge exits 0 on SIGTERM")
    srv.shutdown()


run("test_actions", body)
