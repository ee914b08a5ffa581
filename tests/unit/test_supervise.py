"""``warden worker``'s supervisor, with real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from tests.support import wait_until

STEADY = "import time; print('steady', flush=True); time.sleep(120)"


class Supervisor:
    def __init__(self, process: subprocess.Popen[str], lines: list[str],
                 reader: threading.Thread) -> None:
        self.process, self.lines, self.reader = process, lines, reader

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self.reader.join(10)  # the output ends once the children are gone too
        return code


def run(children: str, **options: object) -> tuple[Supervisor, list[str]]:
    """The supervisor in a process of its own (it installs signal handlers); its output
    lines are collected as they come."""
    script = textwrap.dedent(f"""
        import sys
        from service.supervise import Child, supervise
        py = sys.executable
        sys.exit(supervise([{children}], **{options!r}))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                lines.append(line.strip().removeprefix("[warden worker] "))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    return Supervisor(process, lines, reader), lines


def test_a_child_that_dies_is_started_again_and_sigterm_stops_all() -> None:
    """A Celery worker that exits on a broker restart ("Unrecoverable error") must come
    back by itself: nothing else may be watching it."""
    process, lines = run('Child("flaky", [py, "-c", "import sys; sys.exit(3)"]), '
                         f'Child("steady", [py, "-c", "{STEADY}"])',
                         pauses=(0.2, 0.5))
    wait_until(lambda: sum("flaky exited with 3; starting it again" in x for x in lines) >= 3,
               20, message="three restarts")
    process.process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 1  # a child was down: not a clean stop
    assert "flaky exited with 3; starting it again in 0.2 s" in lines
    assert "flaky exited with 3; starting it again in 0.5 s" in lines  # longer each time
    assert not [x for x in lines if "steady exited" in x]


def test_a_child_failing_at_every_start_makes_it_give_up() -> None:
    process, lines = run('Child("broken", [py, "-c", "import sys; sys.exit(2)"]), '
                         f'Child("steady", [py, "-c", "{STEADY}"])',
                         pauses=(0.1,), max_fast_failures=3)
    assert process.wait(20) == 1
    assert any("broken exited with 2 4 times in a row soon after starting: giving up" in x
               for x in lines), lines


def test_a_child_stopping_by_itself_stops_the_others() -> None:
    """``celery control shutdown`` stops every node: restarting it would undo that."""
    process, lines = run('Child("done", [py, "-c", "import time; time.sleep(0.5)"]), '
                         f'Child("steady", [py, "-c", "{STEADY}"])')
    assert process.wait(20) == 0
    assert any("done stopped by itself (exit 0): stopping the others" in x for x in lines)


def test_children_stop_when_the_supervisor_is_killed_outright() -> None:
    process, lines = run('Child("pid", [py, "-c", "import os, time; '
                         'print(os.getpid(), flush=True); time.sleep(120)"])')
    wait_until(lambda: any(x.isdigit() for x in lines), 20, message="the child's pid")
    child = int(next(x for x in lines if x.isdigit()))
    process.process.kill()
    process.wait(10)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{child}/stat") as stat:  # a zombie not yet reaped by init
            return stat.read().split()[2] == "Z"

    wait_until(gone, 10, message="the orphaned child to stop")


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(120)")
    process, lines = run(f'Child("stubborn", [py, "-c", "{stubborn}"])', grace_seconds=1)
    wait_until(lambda: "ready" in lines, 20, message="the child")
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 1
    assert time.monotonic() - started < 10
    assert any("did not stop within 1 s: SIGKILL" in x for x in lines), lines
