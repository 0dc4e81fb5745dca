"""``make run``'s process runner stops everything it started, however it is stopped."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "bin" / "procrun.py"
SLEEPER = "python3 -c \"import time; print('{name} up', flush=True); time.sleep(300)\""
STUBBORN = (
    'python3 -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
    "print('{name} up', flush=True); time.sleep(300)\""
)


def _start(tmp_path, lines, *, grace=2, wait_up=True):
    procfile = tmp_path / "Procfile"
    procfile.write_text("# processes of the test\n" + "\n".join(lines) + "\n")
    log = (tmp_path / "run.log").open("w")
    runner = subprocess.Popen(
        [sys.executable, str(RUNNER), str(procfile), "--grace", str(grace)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if wait_up:
        _wait_for(lambda: (tmp_path / "run.log").read_text().count(" up") == len(lines), "every process up")
    return runner


def _children(runner_pid):
    text = (Path("/proc") / str(runner_pid) / "task" / str(runner_pid) / "children").read_text()
    return [int(pid) for pid in text.split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_it_stops_every_process_on_sigterm_or_ctrl_c_within_ten_seconds(tmp_path, signum):
    runner = _start(tmp_path, [f"web: {SLEEPER.format(name='web')}", f"worker: {STUBBORN.format(name='worker')}"])
    children = _children(runner.pid)
    started = time.monotonic()
    runner.send_signal(signum)
    runner.wait(timeout=10)
    assert time.monotonic() - started < 10
    assert [pid for pid in children if _alive(pid)] == []
    log = (tmp_path / "run.log").read_text()
    assert "worker.1 | did not stop within 2 s: killed" in log  # the stubborn one, after the grace


def test_it_leaves_no_orphan_when_the_runner_itself_is_killed(tmp_path):
    runner = _start(tmp_path, [f"web: {SLEEPER.format(name='web')}", f"worker: {SLEEPER.format(name='worker')}"])
    children = _children(runner.pid)
    runner.kill()
    runner.wait(timeout=5)
    _wait_for(lambda: not any(_alive(pid) for pid in children), "the orphans to stop")


def test_it_stops_the_others_when_one_process_exits(tmp_path):
    lines = [f"web: {SLEEPER.format(name='web')}", "once: python3 -c \"print('once up', flush=True)\""]
    runner = _start(tmp_path, lines, wait_up=False)  # "once" may end before "web" has printed a line
    runner.wait(timeout=10)  # exits on its own: a process that ends is a failure of the whole
    log = (tmp_path / "run.log").read_text()
    assert "once.1 exited: stopping web.1" in log


def test_it_refuses_a_procfile_line_without_a_command(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web\n")
    result = subprocess.run([sys.executable, str(RUNNER), str(procfile)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "not a 'name: command' line: 'web'" in result.stderr
