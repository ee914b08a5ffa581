"""``warden worker``'s supervisor, with real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import sys
    from service.supervise import Child, supervise
    py = sys.executable
    sys.exit(supervise([
        Child("flaky", [py, "-c", "import sys; sys.exit(3)"]),
        Child("steady", [py, "-c", "import time; time.sleep(120)"]),
    ], grace_seconds=5))
""")


def test_a_child_that_dies_is_started_again_and_sigterm_stops_all() -> None:
    """A Celery worker that exits on a broker restart ("Unrecoverable error") must come
    back by itself: nothing else may be watching it."""
    supervisor = subprocess.Popen([sys.executable, "-c", SCRIPT], stderr=subprocess.PIPE,
                                  text=True, cwd=".")
    time.sleep(3.6)  # pauses of 1 s, then 2 s: two restarts
    supervisor.send_signal(signal.SIGTERM)
    _out, err = supervisor.communicate(timeout=15)
    restarts = err.count("flaky exited with 3; starting it again")
    assert restarts >= 2, err
    assert "starting it again in 1 s" in err
    assert "starting it again in 2 s" in err  # a child that keeps dying waits longer
    assert "steady exited" not in err
    assert supervisor.returncode == 0, err  # the steady child stopped on SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    script = textwrap.dedent("""
        import sys
        from service.supervise import Child, supervise
        stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print('ready', flush=True); time.sleep(120)")
        sys.exit(supervise([Child("stubborn", [sys.executable, "-c", stubborn])],
                           grace_seconds=1))
    """)
    supervisor = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    assert supervisor.stdout.readline().strip() == "ready"
    started = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    _out, err = supervisor.communicate(timeout=15)
    assert time.monotonic() - started < 5
    assert "did not stop within 1 s: SIGKILL" in err
    assert supervisor.returncode == 1
