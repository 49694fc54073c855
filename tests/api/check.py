#!/usr/bin/env python3
"""Runs schemathesis against Fengqiao's own OpenAPI document (/api/openapi.json), signed in,
with at least 100 generated examples per operation: no server errors, every answer valid
against the schema it documents.

A demo county is served from a fresh database. Two accounts sign in: the county dispatcher
(cases, routing, reports) and the administrator (users, units, configuration; the demo's
published TOTP secret gives the second factor). Each runs every operation; the dispatcher
first, since the administrator's run may disable or reset other accounts. Path parameters are
pinned to records the demo holds (case, unit, user and warning 2; the county's code), so that
generated requests reach the handlers instead of a 404. Sign-out is left out (it would end the
run's session), and so are the administrator's credential resets and user updates of the
administrator itself (same reason).

Usage: tests/api/check.py FENGQIAO_BIN SCHEMATHESIS_BIN
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

DEMO_TOTP_SECRET = "FENGQIAODEMOTOTPSECRETKEYFORDEMO"
PASSWORD = "Fengqiao@2026"


def fail(msg):
    print(f"api check: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def totp(secret, at=None):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((at or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def post(base, path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def sign_in(base, username):
    r = post(base, "/api/v1/auth/login", {"username": username, "password": PASSWORD})
    if r["next_step"] == "second_factor":
        step = post(base, "/api/v1/auth/second-factor", {"code": totp(DEMO_TOTP_SECRET)}, r["token"])
        r["next_step"] = step["next_step"]
    if r["next_step"] != "full":
        fail(f"{username} could not sign in fully: {r['next_step']}")
    return r["token"], r["user"]["id"]


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    bin_, st = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="api-check-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [bin_, "demo", "--cases", "300", "--database", os.path.join(work, "demo.db"),
         "--listen", f"127.0.0.1:{port}"],
        stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            fail("the demo server did not start")
        config = os.path.join(work, "schemathesis.toml")
        open(config, "w").write(
            '[parameters]\nid = 2\nindex = 0\ncode = "990102"\ndate = "2026-10-01"\n'
            'channel = "police"\n')
        # Both sign in first: the runs' generated sign-ins soon meet the per-address limit.
        tokens = {u: sign_in(base, u)[0] for u in ("dispatcher", "admin")}
        total = 0
        for username, token in tokens.items():
            excluded = ["/api/v1/auth/logout"]
            if username == "admin":
                excluded += ["/api/v1/users/{id}/credentials"]
            args = [st, "--config-file", config, "run", base + "/api/openapi.json",
                    "--checks", "not_a_server_error,response_schema_conformance",
                    "--max-examples", "100", "--workers", "2",
                    "--header", f"Authorization: Bearer {token}",
                    "--suppress-health-check", "all", "--no-color"]
            for path in excluded:
                args += ["--exclude-path", path]
            started = time.time()
            run = subprocess.run(args, cwd=work, capture_output=True, text=True)
            out = run.stdout + run.stderr
            tail = "\n".join(out.splitlines()[-40:])
            if run.returncode != 0:
                print(out[-20000:])
                fail(f"schemathesis found problems as {username} (exit {run.returncode})")
            cases = [l for l in out.splitlines() if "generated" in l and "passed" in l]
            print(f"api check as {username}: {cases[-1].strip() if cases else tail} "
                  f"in {time.time() - started:.0f} s")
            total += 1
        print(f"api check: schemathesis passed for {total} accounts")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
