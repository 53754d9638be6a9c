"""`evalkit review serve` stops Streamlit with it: SIGTERM and Ctrl-C leave nothing on the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from review_helpers import new_study

from human_review.server import _wait_healthy, free_port

pytest.importorskip("streamlit", reason="the review extra is not installed: pip install -e '.[review]'")

SERVE = ("import sys; from evalkit.cli import main as m; "
         "m.COMMANDS['review'] = ('evalkit.cli.review:review', 'review'); sys.exit(m.main(sys.argv[1:]))")


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_passes_the_signal_on_and_frees_the_port(tmp_path, signum):
    _, study, _, url = new_study(tmp_path, "served", n=2)
    port = free_port()
    env = {**os.environ, "EVALKIT_REVIEW_DB": url, "PYTHONPATH": os.pathsep.join(sys.path)}
    # A fresh session with the default SIGINT disposition, as in a terminal.
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "review", "serve", study.name, "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}", 90)
        children = _children(proc.pid)
        assert children, "streamlit runs as a child of serve"
        proc.send_signal(signum)  # only to serve itself, not to its process group
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _port_taken(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _port_taken(port)
        assert not [c for c in children if os.path.exists(f"/proc/{c}") and "zombie" not in open(f"/proc/{c}/status").read()]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
