"""Races for the claim on an execution, for the claim tests.

    python _claimer.py URL OPTIONS_JSON EID GO RESULT DONE

Waits for the file GO, tries ``Store.claim(EID)``, writes "won" or "refused" to RESULT, then stays
alive (holding what it won) until the file DONE appears.
"""

from __future__ import annotations

import json
import os
import sys
import time

from pylo import ExecutionClaimed
from pylo.store import Store


def main(url: str, options: str, eid: str, go: str, result: str, done: str) -> None:
    store = Store(url, json.loads(options))
    while not os.path.exists(go):  # every claimer starts together
        time.sleep(0.001)
    try:
        store.claim(eid)
        outcome = "won"
    except ExecutionClaimed:
        outcome = "refused"
    with open(f"{result}.tmp", "w") as fh:
        fh.write(outcome)
    os.replace(f"{result}.tmp", result)
    deadline = time.monotonic() + 60
    while not os.path.exists(done) and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    main(*sys.argv[1:])
