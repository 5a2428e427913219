"""``pylo serve`` as users run it: the console script in its own process, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

import tasks
from pylo import Pylo

PYLO = os.path.join(os.path.dirname(sys.executable), "pylo")


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([PYLO, "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the socket listens
    assert " at http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split(" at ", 1)[1].split("/ ", 1)[0]


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(30)


@pytest.mark.slow
def test_serve_a_local_store_until_ctrl_c(tmp_path: Any) -> None:
    url = str(tmp_path / "store")
    eid = Pylo.local_multithread(url, number_of_workers=1).start_from_scratch(range(5), tasks.noop, progress=False)
    proc, base = _serve(url)
    try:
        with urllib.request.urlopen(base + "/api/executions") as reply:
            body = json.load(reply)
        assert [r["id"] for r in body["executions"]] == [eid]
        assert body["executions"][0]["status"] == "finished"
    finally:
        assert _stop(proc) == 0


@pytest.mark.slow
def test_serve_an_s3_store_with_storage_options(moto_server: Any) -> None:
    url = f"s3://{moto_server.new_bucket()}/store"
    options = moto_server.options()
    pylo = Pylo.local_multithread(url, number_of_workers=1, storage_options=options)
    eid = pylo.start_from_scratch(range(7), tasks.fail_multiples_of_7, progress=False)
    proc, base = _serve(url, "-o", "key=testing", "-o", "secret=testing",
                        "-o", "client_kwargs=" + json.dumps(options["client_kwargs"]))
    try:
        with urllib.request.urlopen(f"{base}/api/executions/{eid}") as reply:
            detail = json.load(reply)
        assert (detail["finished"], detail["failed"], detail["status"]) == (6, 1, "failed_inputs")
        with urllib.request.urlopen(base + "/") as reply:
            page = reply.read().decode()
        assert "testing" not in page  # credentials never reach a page
    finally:
        assert _stop(proc) == 0


def test_serve_refuses_a_missing_store(tmp_path: Any) -> None:
    proc = subprocess.run([PYLO, "serve", str(tmp_path / "nothing"), "--port", "0"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3 and "no pylo store" in proc.stderr
