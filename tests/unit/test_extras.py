"""Optional dependencies: extras a user can guess, and errors that name the extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pylo._extras import EXTRAS, extra_for_protocol, install_hint, require

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def _extras() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras: dict[str, list[str]] = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    return extras


def _names(requirements: list[str]) -> set[str]:
    return {r.split("[")[0].split(">")[0].split("=")[0].strip() for r in requirements}


def test_the_extras_a_user_guesses_exist_and_install_what_they_say() -> None:
    extras = _extras()
    assert {"s3", "gcs", "azure", "dataframe", "all"} <= set(extras)
    assert "s3fs" in _names(extras["s3"])
    assert "gcsfs" in _names(extras["gcs"])
    assert "adlfs" in _names(extras["azure"])
    assert {"pandas", "pyarrow"} <= _names(extras["dataframe"])  # results_bag(...).to_dataframe()
    assert extras["all"] == ["pylo-dask[s3,gcs,azure,dataframe]"]


def test_every_extra_an_error_names_exists() -> None:
    assert set(EXTRAS.values()) <= set(_extras())


@pytest.mark.parametrize(
    ("url", "extra"),
    [("s3://b/p", "s3"), ("gs://b/p", "gcs"), ("gcs://b/p", "gcs"), ("abfs://c/p", "azure"), ("az://c/p", "azure"),
     ("/tmp/x", None), ("memory://x", None), ("file:///tmp/x", None)],
)
def test_extra_for_protocol(url: str, extra: str | None) -> None:
    assert extra_for_protocol(url) == extra


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what an environment without pyarrow sees
    with pytest.raises(ImportError, match=r"to_dataframe needs pyarrow.*pip install 'pylo-dask\[dataframe\]'"):
        require("pyarrow", "to_dataframe")
    assert install_hint("gcs") == "pip install 'pylo-dask[gcs]'"


@pytest.mark.parametrize(("module", "url", "extra"), [("s3fs", "s3://bucket/runs", "s3"),
                                                      ("gcsfs", "gs://bucket/runs", "gcs"),
                                                      ("adlfs", "abfs://container/runs", "azure")])
def test_a_store_whose_package_is_missing_names_the_extra(module: str, url: str, extra: str) -> None:
    # A fresh interpreter: fsspec caches a protocol's class once it was imported.
    script = textwrap.dedent(f"""
        import sys
        sys.modules[{module!r}] = None  # not installed
        from pylo import Pylo
        from pylo.errors import InvalidArgument
        try:
            Pylo.local_multithread({url!r})
        except InvalidArgument as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert f"pip install 'pylo-dask[{extra}]'" in out.stdout, out.stdout + out.stderr


def test_a_results_bag_becomes_a_dask_dataframe(tmp_path: Path) -> None:
    """The README's ``results_bag(eid).to_dataframe()`` needs pyarrow, which the dataframe extra installs."""
    from pylo import Pylo

    pylo = Pylo.local_multithread(tmp_path, 1, store_results=True)
    eid = pylo.start_from_scratch(range(4), lambda x: x * 10, progress=False)
    frame = pylo.results_bag(eid).to_dataframe(columns=["input", "result"]).compute()
    assert frame["result"].tolist() == [0, 10, 20, 30]
