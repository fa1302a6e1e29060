"""test_mw_login.py -- `mw` logs in, manages users and tokens, reads the audit log.

Against a real mw-hub started with no user: `mw login --bootstrap` creates
the first admin from the token the hub printed, the session lands in the
credentials file (mode 0600) and later commands use it; users and API
tokens are made and removed with `mw`; a refused call says what to do;
passwords are read from standard input, never from the command line.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwtest import Hub, run, run_mw  # noqa: E402

PASSWORD = "a long enough password"


def body(c):
    hub = Hub(c.workdir, {"edge-1": "tok-edge-1-secret"}, api_token=None).start()
    cred = os.path.join(c.workdir, "home", ".config", "mw", "credentials")

    def mw(*args, stdin="", env=None, who=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("MW_")}
        e["HOME"] = os.path.join(c.workdir, "home" if who is None else who)
        e.pop("XDG_CONFIG_HOME", None)
        e.update(env or {})
        return run_mw(*args, env=e, stdin=stdin)

    with open(os.path.join(hub.data_dir, "bootstrap.token")) as f:
        boot = f.read().strip()
    rc, out, err = mw("--hub", hub.url, "login", "--bootstrap", boot, "--user", "root",
                      stdin=PASSWORD + "\n")
    c.check(rc == 0 and "as root (admin)" in out, "mw login --bootstrap makes the first admin",
            out + err)
    c.check(os.path.exists(cred) and oct(os.stat(cred).st_mode & 0o777) == "0o600",
            "the session is saved in ~/.config/mw/credentials, mode 0600")
    rc, out, err = mw("whoami")
    c.check(rc == 0 and out.startswith("root (admin") and hub.url in out,
            "later commands use the saved hub and session", out + err)

    rc, out, err = mw("users", "add", "bob", "--role", "operator", stdin="bobs password 123\n")
    c.check(rc == 0 and "created bob: operator" in out, "mw users add", out + err)
    rc, out, err = mw("users", "add", "carl", stdin="whatever password\n")
    c.check(rc == 2 and "--role" in err, "mw users add without --role says what is missing",
            err)
    rc, out, err = mw("users")
    c.check(rc == 0 and "bob" in out and "operator" in out and "root" in out,
            "mw users lists them", out)
    rc, out, err = mw("--hub", hub.url, "login", "--user", "bob", stdin="bobs password 123\n",
                      who="bob")
    c.check(rc == 0 and "as bob (operator)" in out, "bob logs in from his own home", out + err)
    rc, out, err = mw("users", who="bob")
    c.check(rc == 1 and "403" in err and "operator" in err and "--role" in err,
            "an operator listing users is told why not and what would help", err)
    rc, out, err = mw("events", "--node", "edge-1", who="bob")
    c.check(rc == 0 and "no events match" in out, "bob reads events with his session",
            out + err)

    rc, out, err = mw("tokens", "create", "grafana", "--role", "viewer", "--ttl", "30d")
    token = out.strip()
    c.check(rc == 0 and token.startswith("mwa_") and "shown this once" in err,
            "mw tokens create prints the token once, on stdout", out + err)
    rc, out, err = mw("--hub", hub.url, "--token", token, "whoami", who="nobody")
    c.check(rc == 0 and "root (viewer" in out, "the API token works alone (viewer)", out + err)
    rc, out, err = mw("tokens")
    line = [ln for ln in out.splitlines() if "grafana" in ln]
    c.check(line and "valid" in line[0] and token not in out,
            "mw tokens lists it without the secret", out)
    tid = line[0].split()[0] if line else "0"
    rc, out, err = mw("tokens", "revoke", tid)
    c.check(rc == 0 and "revoked" in out, "mw tokens revoke", out + err)
    rc, out, err = mw("--hub", hub.url, "--token", token, "nodes", who="nobody")
    c.check(rc == 1 and "401" in err and "mw login" in err,
            "the revoked token is refused, and mw says how to get in", err)

    rc, out, err = mw("users", "set", "bob", "--disable")
    c.check(rc == 0 and "disabled" in out, "mw users set --disable", out + err)
    rc, out, err = mw("whoami", who="bob")
    c.eq(rc, 1, "bob's session ends when he is disabled")
    rc, out, err = mw("users", "rm", "bob")
    c.check(rc == 0 and "deleted bob" in out, "mw users rm", out + err)
    rc, out, err = mw("users", "rm", "root")
    c.check(rc == 1 and "last admin" in err, "the last admin stays", err)

    rc, out, err = mw("audit")
    for action in ("bootstrap", "login", "user.create", "token.create", "token.revoke",
                   "user.change", "user.delete"):
        c.check(action in out, "mw audit shows %s" % action)
    c.check(PASSWORD not in out and "mwa_" not in out, "no secret in the audit log")

    rc, out, err = mw("logout")
    c.check(rc == 0 and "logged out" in out, "mw logout", out + err)
    rc, out, err = mw("whoami")
    c.check(rc == 1 and "401" in err and hub.url.split("//")[1] in open(cred).read(),
            "after logout the hub is remembered, the session is not", err)
    rc, out, err = mw("login", "--user", "root", stdin="wrong password here\n")
    c.check(rc == 1 and "wrong user name or password" in err, "a wrong password is refused",
            err)
    hub.stop()
    c.check(PASSWORD not in hub.log_tail(10000), "no password in the hub's log")


if __name__ == "__main__":
    run("test_mw_login", body)
