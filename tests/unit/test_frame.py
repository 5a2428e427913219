"""The failures table without pandas: a clear error naming the extra."""

from __future__ import annotations

import sys

import pytest

from pylo._core.frame import records_frame, traceback_ends


def test_without_pandas_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an environment without pandas sees
    with pytest.raises(ImportError, match=r"pip install 'pylo-dask\[dataframe\]'"):
        records_frame([])


def test_traceback_ends_skip_pylo_frames() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/x/src/pylo/_core/block.py", line 1, in _loop\n    task(value)\n'
        '  File "/home/me/job.py", line 9, in work\n    raise ValueError(x)\n'
        "ValueError: 3\n"
    )
    assert traceback_ends(text) == ('File "/home/me/job.py", line 9, in work', "ValueError: 3")
    assert traceback_ends("") == ("", "")
