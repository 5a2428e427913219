"""The public surface: sorted __all__, the seed's import path, errors that pickle."""

from __future__ import annotations

import pickle

import pytest

import pylo
import pylo.errors
from pylo import errors


def test_all_is_sorted_and_importable() -> None:
    assert pylo.__all__ == sorted(pylo.__all__)
    for name in pylo.__all__:
        assert getattr(pylo, name) is not None


def test_seed_import_path() -> None:
    from pylo.execution import Pylo

    assert Pylo is pylo.Pylo


@pytest.mark.parametrize("name", errors.__all__)
def test_errors_pickle_and_share_one_root(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.PyloError)
    exc = cls("message")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls and str(back) == "message"


def test_snapshot_errors_keep_their_path() -> None:
    exc = errors.CorruptSnapshot("bad", "s3://b/x")
    back = pickle.loads(pickle.dumps(exc))
    assert back.path == "s3://b/x" and isinstance(back, ValueError)


def test_stdlib_bases() -> None:
    assert issubclass(errors.InvalidArgument, ValueError)
    assert issubclass(errors.ExecutionNotFound, LookupError)
    assert issubclass(errors.StoreUnreachable, ConnectionError)
