"""Starting the viewer: the ``streamlit run`` command line (loopback only, no usage
statistics, no tracebacks in the browser) and, for tests and scripts, a context manager that
waits for the health check and stops the server afterwards. The flags and the waiting are the
review app's (human_review/server.py), so both apps show the browser the same little."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
ENV_ROOT = "EVALKIT_VIEW_ROOT"
HOST = "127.0.0.1"  # loopback only: compares hold prompts and answers that are not for the network


def view_command(root: Path, port: int) -> tuple[list[str], dict[str, str]]:
    from human_review.server import STREAMLIT_FLAGS

    argv = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", HOST, "--server.port", str(port),
            *STREAMLIT_FLAGS]
    env = dict(os.environ)
    env[ENV_ROOT] = str(Path(root).resolve())
    # Streamlit puts the script's folder, not the project root, on sys.path.
    top = str(APP.parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (top, env.get("PYTHONPATH")) if p)
    return argv, env


@contextmanager
def running_viewer(root: Path, *, port: int | None = None, timeout: float = 60.0, log: Path | None = None):
    """Start the viewer on a free loopback port, wait until it answers, yield its URL, stop it."""
    from human_review.server import _stop, _wait_healthy, free_port

    port = port or free_port(HOST)
    argv, env = view_command(root, port)
    base = f"http://{HOST}:{port}"
    with ExitStack() as stack:
        out = stack.enter_context(open(log, "wb")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(Path(root).resolve()))
        stack.callback(_stop, proc)
        _wait_healthy(proc, base, timeout)
        yield base
