"""The execution machinery, without Dask and without a user interface.

    plan ──► blocks in the store ──► block (the task loop: decide, flush) ──► segments
    state (merged by position) ◄── segments ──► summary, verify

``config`` holds the options; ``decide`` the pure failure-budget and retry logic; ``run`` the
handle a user holds while a backend carries the blocks out.
"""
