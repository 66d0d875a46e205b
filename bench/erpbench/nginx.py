"""nginx on loopback as a near-zero-cost ERP target: config from bench/nginx.conf.in, bodies from `bodies`."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from erpbench import BENCH_DIR, bodies
from erpbench.procs import Child, free_port, pin_prefix, wait_http

NGINX = "/usr/sbin/nginx"
ECHO_MODULE_CANDIDATES = (
    "/usr/lib/nginx/modules/ngx_http_echo_module.so",
    "/usr/share/nginx/modules/ngx_http_echo_module.so",
)
INSTALL_CMD = "apt-get update && apt-get install -y nginx-light"
TEMPLATE = BENCH_DIR / "nginx.conf.in"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class NginxMissing(RuntimeError):
    """nginx (or its echo module) is not installed; the message carries the install command."""


def echo_module() -> str | None:
    """Path of the echo module shipped by Debian's nginx-light (libnginx-mod-http-echo), if installed."""
    return next((p for p in ECHO_MODULE_CANDIDATES if Path(p).exists()), None)


def ensure_installed(allow_install: bool) -> None:
    """Raise NginxMissing with the exact install command, or install it when allowed and root."""
    if Path(NGINX).exists() and echo_module():
        return
    can = allow_install and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can:
        print(f"[bench] nginx or its echo module is missing; running: {INSTALL_CMD}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True, env=env, timeout=600)
        if Path(NGINX).exists() and echo_module():
            return
    raise NginxMissing(
        f"{NGINX} with the echo module is required; install it with:\n    {INSTALL_CMD}\n"
        "(Debian's nginx-light includes libnginx-mod-http-echo; run as root, or pass "
        "--install-nginx to let the bench run it when it is root)"
    )


def render_config(prefix: Path, port: int, connections: int = 30000) -> str:
    """The nginx.conf text for `prefix` and `port` (fills every @PLACEHOLDER@ of the template)."""
    module = echo_module()
    if module is None:
        raise NginxMissing(f"nginx echo module not found; install it with: {INSTALL_CMD}")
    inline = bodies.inline_bodies()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = connections + 1000 if hard == resource.RLIM_INFINITY else min(connections + 1000, hard)
    connections = min(connections, nofile - 1000)
    values: dict[str, str] = {
        "ECHO_MODULE": module,
        "PREFIX": str(prefix),
        "PORT": str(port),
        "CONNECTIONS": str(connections),
        "NOFILE": str(nofile),
        "ROLE_MAP": "\n".join(f'        "Bearer {bodies.token(r)}" {r};' for r in bodies.ROLE_KEYS),
        "ME_MAP": "\n".join(f"        {r} {bodies.USERNAMES[r]};" for r in bodies.ROLE_KEYS),
        "LOGIN_ROLE_MAP": "\n".join(f'        "~\\"username\\":\\s*\\"{r}" {r};' for r in bodies.ROLE_KEYS),
        "LOGIN_TOKEN_MAP": "\n".join(f'        {r} "{bodies.token(r)}";' for r in bodies.ROLE_KEYS),
        **inline,
    }
    for key, text in inline.items():
        if "'" in text or "\\" in text:
            raise ValueError(f"body {key} cannot be embedded in a single-quoted nginx string")
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = [line for line in text.splitlines() if _PLACEHOLDER.search(line.split("#")[0])]
    if leftover:
        raise ValueError(f"unfilled placeholders in the nginx config: {leftover[:3]}")
    return text


class NginxTarget:
    """nginx as a child process (daemon off, 1 worker, loopback, access_log off) in its own temp prefix.

    with NginxTarget(cpus="0") as target:
        target.url   # http://127.0.0.1:PORT
    """

    def __init__(self, cpus: str | None = None, connections: int = 30000, keep_dir: bool = False) -> None:
        """Configure; `start()` (or `with`) writes the prefix and starts nginx."""
        self.cpus = cpus
        self.connections = connections
        self.keep_dir = keep_dir
        self.port = 0
        self.prefix: Path | None = None
        self.child: Child | None = None
        self.credentials_file: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of the running target."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> NginxTarget:
        """Write the prefix (config, bodies, accounts), start nginx, wait until /health answers."""
        self.prefix = Path(tempfile.mkdtemp(prefix="erpload-bench-nginx-"))
        self.prefix.chmod(0o755)  # nginx's worker drops root privileges and must read the web root
        for sub in ("www", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        for rel, text in bodies.static_files().items():
            path = self.prefix / "www" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.credentials_file = self.prefix / "credentials.json"
        self.credentials_file.write_text(json.dumps(bodies.credentials()))
        self.port = free_port()
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_config(self.prefix, self.port, self.connections))
        argv = [*pin_prefix(self.cpus), NGINX, "-p", str(self.prefix), "-c", str(conf)]
        test = subprocess.run(
            [NGINX, "-t", "-q", "-p", str(self.prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx rejected the generated config {conf}:\n{test.stderr}")
        # SIGQUIT = graceful stop of the nginx master and its worker
        self.child = Child(argv, log_path=self.prefix / "stdout.log", stop_signal=signal.SIGQUIT)
        try:
            wait_http(self.url + "/health", timeout_s, self.child.proc)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop nginx by PID; remove the temp prefix unless `keep_dir`."""
        if self.child is not None:
            self.child.stop()
            self.child = None
        if self.prefix is not None and not self.keep_dir:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None

    def pin(self, cpus: str | None) -> None:
        """Move nginx's master and worker to `cpus` ("0", "0,1"), or back to every CPU (None); Linux only."""
        if not hasattr(os, "sched_setaffinity"):
            return
        mask = {int(c) for c in cpus.split(",")} if cpus else os.sched_getaffinity(0)
        for pid in self.pids():
            try:
                os.sched_setaffinity(pid, mask)
            except OSError:
                pass

    def pids(self) -> list[int]:
        """nginx master + worker PIDs (for CPU accounting)."""
        if self.child is None:
            return []
        import psutil

        try:
            master = psutil.Process(self.child.pid)
            return [master.pid, *(c.pid for c in master.children())]
        except psutil.Error:
            return []

    def __enter__(self) -> NginxTarget:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()
