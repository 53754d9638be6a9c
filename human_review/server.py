"""Starting the Streamlit app: the command line, its environment, and (for tests and
scripts) a context manager that waits until the server answers and stops it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
ENV_STUDY = "EVALKIT_REVIEW_STUDY"
ENV_DB = "EVALKIT_REVIEW_DB"

# Keep what the browser can see to the app itself: no tracebacks (they could quote data),
# no usage statistics, no developer toolbar, no file watcher.
STREAMLIT_FLAGS = (
    "--server.headless", "true",
    "--browser.gatherUsageStats", "false",
    "--client.showErrorDetails", "none",
    "--client.toolbarMode", "minimal",
    "--client.showSidebarNavigation", "false",
    "--server.fileWatcherType", "none",
    "--server.runOnSave", "false",
    "--global.developmentMode", "false",
)


def streamlit_command(study: str, url: str, *, host: str = "127.0.0.1", port: int = 8501) -> tuple[list[str], dict[str, str]]:
    """argv and environment for ``streamlit run human_review/app.py``; the study and the
    database URL travel in the environment, never in the page's address."""
    argv = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host, "--server.port", str(port), *STREAMLIT_FLAGS]
    env = dict(os.environ)
    env[ENV_STUDY], env[ENV_DB] = study, url
    # Streamlit puts the script's folder, not the project root, on sys.path.
    root = str(APP.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return argv, env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def running_app(study: str, url: str, *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 60.0, log: Path | None = None):
    """Start the app on a free loopback port, wait for its health check, yield its base URL,
    and stop it at the end."""
    port = port or free_port(host)
    argv, env = streamlit_command(study, url, host=host, port=port)
    base = f"http://{host}:{port}"
    with ExitStack() as stack:
        out = stack.enter_context(open(log, "wb")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(APP.parent.parent))
        stack.callback(_stop, proc)
        _wait_healthy(proc, base, timeout)
        yield base


def _wait_healthy(proc, base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer on {base} within {timeout:.0f} s")
        time.sleep(0.2)


def run_forwarding_signals(argv: list[str], env: dict[str, str]) -> int:
    """Run Streamlit as a child and pass SIGTERM, SIGINT and SIGHUP on to it, so that stopping
    ``evalkit review serve`` (a service manager's SIGTERM, Ctrl-C) never leaves Streamlit
    holding the port; returns Streamlit's exit status."""
    import signal

    proc = subprocess.Popen(argv, env=env)
    forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    previous = {s: signal.signal(s, forward) for s in forwarded}
    try:
        while True:
            try:
                code = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:  # an exception here: never leave the child behind
            _stop(proc)
    return 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
