#!/usr/bin/env python3
"""Tries the contract as integrators and generated tooling do, against a real portal.

1. Starts the portal binary ($PP_BIN) on a free port with a fresh SQLite database.
2. Signs up a user through the mailed link, creates a team and an API key.
3. Unless --no-typescript: generates TypeScript types from the *served* document with
   openapi-typescript, type-checks contract/ts with strict tsc and runs the smoke scenario.
4. Unless --no-schemathesis: runs schemathesis (all checks, every phase) as the signed-in user,
   then with the API key, each for a bounded time. A failure prints the curl that reproduces it.

Exits non-zero on the first failing step.
"""

import argparse
import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TS_DIR = ROOT / "contract" / "ts"
PASSWORD = "contract-password-1"
SERVICE_TOKEN = "contract-service-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            raw = res.read()
            return res.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, (json.loads(raw) if raw else None)


def expect(status, body, wanted, what):
    if status != wanted:
        sys.exit(f"contract setup: {what} answered {status}, not {wanted}: {body}")
    return body


def mailed_token(mail_dir: Path, to: str, marker: str, deadline_s=20) -> str:
    """The token of the newest mail to `to` whose link contains `marker` (e.g. 'verify-email?token=')."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), reverse=True):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to not in str(msg["To"]):
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()
            found = re.search(re.escape(marker) + r"([A-Za-z0-9_-]{43})", text)
            if found:
                return found.group(1)
        time.sleep(0.05)
    sys.exit(f"contract setup: no mail to {to} with {marker}")


class Portal:
    def __init__(self, binary: str):
        self.dir = Path(tempfile.mkdtemp(prefix="pp-contract-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "portal.log", "wb")
        # Domain checks ask a real DNS server (dnslib), which knows no name: every check answers
        # "no TXT record", at once.
        records = self.dir / "dns-records.json"
        records.write_text("{}")
        script = Path(__file__).resolve().parent.parent / "crates/server/tests/support/dns_server.py"
        self.dns = subprocess.Popen([sys.executable, str(script), str(records)], stdout=subprocess.PIPE, text=True)
        dns_port = int(self.dns.stdout.readline())
        env = dict(os.environ)
        env.update(
            PORTAL_BIND=f"127.0.0.1:{self.port}",
            PORTAL_DATA_DIR=str(self.dir / "data"),
            PORTAL_PUBLIC_URL=self.base,
            PORTAL_WEB_DIR=str(self.dir / "web"),
            PORTAL_SERVICE_TOKEN=SERVICE_TOKEN,
            PORTAL_LOG="warn",
            PORTAL_DNS_RESOLVER=f"127.0.0.1:{dns_port}",
        )
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as res:
                    if res.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"contract: the portal did not start; its log:\n{(self.dir / 'portal.log').read_text()}")
            time.sleep(0.1)

    @property
    def mail_dir(self) -> Path:
        return self.dir / "data" / "mail"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.dns.kill()
        self.log.close()

    def user(self, address: str):
        """A verified, signed-in user with a team and a full-access key: (access token, team id, key)."""
        expect(*call(self.base, "POST", "/api/v1/auth/signup",
                     {"email": address, "name": "Contract Tester", "password": PASSWORD}), 202, "sign-up")
        token = mailed_token(self.mail_dir, address, "verify-email?token=")
        expect(*call(self.base, "POST", "/api/v1/auth/verify-email", {"token": token}), 204, "verify-email")
        session = expect(*call(self.base, "POST", "/api/v1/auth/login",
                               {"email": address, "password": PASSWORD}), 200, "login")
        access = session["access_token"]
        team = expect(*call(self.base, "POST", "/api/v1/teams", {"name": "Contract"}, access), 201, "create team")
        key = expect(*call(self.base, "POST", f"/api/v1/teams/{team['id']}/api-keys",
                           {"name": "schemathesis", "environment": "development", "expiration": "never"},
                           access), 201, "create key")
        return access, team["id"], key["secret"]


def run(cmd, **kwargs):
    shown = [re.sub(r"(Authorization: Bearer ).*", r"\1***", part) for part in cmd]
    print("+", " ".join(shown), flush=True)
    return subprocess.run(cmd, **kwargs).returncode


def typescript(portal: Portal) -> int:
    """openapi-typescript on the served document, strict tsc, then the smoke scenario."""
    bin_dir = TS_DIR / "node_modules" / ".bin"
    generated = TS_DIR / "generated"
    generated.mkdir(exist_ok=True)
    with urllib.request.urlopen(portal.base + "/api/v1/openapi.json") as res:
        (generated / "openapi.json").write_bytes(res.read())
    steps = [
        [str(bin_dir / "openapi-typescript"), str(generated / "openapi.json"), "-o", str(generated / "api.d.ts")],
        [str(bin_dir / "tsc"), "-p", str(TS_DIR)],
    ]
    for step in steps:
        if run(step) != 0:
            return 1
    env = dict(os.environ, PP_BASE_URL=portal.base, PP_MAIL_DIR=str(portal.mail_dir), PP_SERVICE_TOKEN=SERVICE_TOKEN)
    return run(["node", str(TS_DIR / "dist" / "src" / "smoke.js")], env=env)


def schemathesis(portal: Portal, who: str, token: str, seconds: int, report_dir: Path) -> int:
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "contract" / "schemathesis.toml"),
        "run", f"{portal.base}/api/v1/openapi.json",
        "--checks", "all",
        # Replaced by contract/hooks.py's positive_data_acceptance_pinned.
        "--exclude-checks", "positive_data_acceptance",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-time", str(seconds),
        "--workers", "2",
        "--header", f"Authorization: Bearer {token}",
        "--report", "junit",
        "--report-dir", str(report_dir / who),
        "--seed", os.environ.get("PP_SCHEMATHESIS_SEED", "20261127"),
        "--generation-database", "none",
    ]
    print(f"== schemathesis as {who} for up to {seconds} s", flush=True)
    # The pinned allowances (contract/hooks.py), importable from contract/.
    return run(cmd, cwd=ROOT / "contract", env=dict(os.environ, SCHEMATHESIS_HOOKS="hooks"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-typescript", action="store_true")
    parser.add_argument("--no-schemathesis", action="store_true")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("PP_SCHEMATHESIS_SECONDS", "120")),
                        help="time for each schemathesis run (user, then key)")
    args = parser.parse_args()
    binary = os.environ.get("PP_BIN") or str(ROOT / "target" / "release" / "partner-portal")
    report_dir = Path(os.environ.get("PP_CONTRACT_REPORTS", ROOT / "contract" / "reports"))
    portal = Portal(binary)
    failed = 0
    try:
        if not args.no_typescript:
            print("== generated TypeScript client: types, strict tsc, smoke scenario", flush=True)
            failed |= typescript(portal)
        if not args.no_schemathesis and not failed:
            # Each run gets its own account, team and key (the stateful phase deletes and revokes),
            # made before either run: the first run spends the address's sign-in budget.
            access, _, _ = portal.user("schemathesis-user@example.com")
            _, _, key = portal.user("schemathesis-key@example.com")
            failed |= schemathesis(portal, "user", access, args.seconds, report_dir)
            failed |= schemathesis(portal, "api-key", key, args.seconds, report_dir)
    finally:
        portal.stop()
    if failed:
        print(f"contract: FAILED (the portal's log is {portal.dir / 'portal.log'})")
        return 1
    shutil.rmtree(portal.dir, ignore_errors=True)
    print("contract: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
