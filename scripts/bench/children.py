"""Runs benchmark steps as child processes and reads each child's own peak RSS (wait4)."""
import json
import os
import subprocess
import sys
import tempfile
import time

from common import BENCH


def run(cmd, env=None, stdout_to_null=False):
    """Runs cmd; returns (stdout, stderr, peak RSS in bytes, wall seconds). Raises on failure."""
    BENCH.mkdir(exist_ok=True)
    with tempfile.TemporaryFile(dir=BENCH) as out, tempfile.TemporaryFile(dir=BENCH) as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL if stdout_to_null else out,
                                stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{stderr[-2000:]}")
    return stdout, stderr, usage.ru_maxrss * 1024, wall


def run_json(cmd, env=None):
    stdout, stderr, rss, wall = run(cmd, env)
    return json.loads(stdout.strip().splitlines()[-1]), rss, wall


def python(script, *args):
    """A helper script of this folder run by this interpreter (the benchmark's venv)."""
    return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), script), *args]


def progress(message):
    print(message, file=sys.stderr, flush=True)
