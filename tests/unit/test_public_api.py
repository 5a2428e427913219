"""The public surface: every public name exported in a sorted ``__all__``, every type the facade
hands out reachable from ``pylo``, the original pylo's import path, errors that pickle."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import types
import typing

import pytest

import pylo
import pylo.errors
from pylo import errors

PUBLIC_MODULES = ["pylo", "pylo.engine", "pylo.conditions", "pylo.errors"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for public in module.__all__:
        assert getattr(module, public) is not None


def _private_home(obj: object, module: str) -> bool:
    """Defined in ``module`` itself or in one of pylo's private modules (``pylo._core.run``)."""
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str) or not home.startswith("pylo"):
        return False  # typing, dataclasses, the standard library: not ours to export
    return home == module or any(part.startswith("_") for part in home.split("."))


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_name_is_exported(name: str) -> None:
    """A class or function a user can reach as ``module.Name`` without an underscore, and that
    lives there or in a private module, is in ``__all__`` (so docs, ``import *`` and type checkers
    agree on what is public)."""
    module = importlib.import_module(name)
    missing = [
        public for public, obj in vars(module).items()
        if not public.startswith("_") and not isinstance(obj, types.ModuleType)
        and (inspect.isclass(obj) or inspect.isfunction(obj)) and _private_home(obj, name)
        and public not in module.__all__
    ]
    assert missing == []


def _pylo_classes(hint: object) -> set[type]:
    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("pylo"):
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _pylo_classes(arg)
    return found


def _handed_out(cls: type) -> set[type]:
    """The pylo types that the public methods and properties of ``cls`` return, and the types
    of its dataclass fields."""
    found: set[type] = set()
    # The module the class was written in (``__module__`` now says ``pylo``): its functions know.
    home = next(f.__globals__ for f in vars(cls).values() if inspect.isfunction(f))
    if dataclasses.is_dataclass(cls):
        for hint in typing.get_type_hints(cls, home).values():
            found |= _pylo_classes(hint)
    for attr, member in vars(cls).items():
        if attr.startswith("_"):
            continue
        fn = getattr(member, "fget", None) or getattr(member, "__func__", member)
        if inspect.isfunction(fn) and "return" in fn.__annotations__:
            returned = fn.__annotations__["return"]  # alone: parameters may name TYPE_CHECKING imports
            found |= _pylo_classes(eval(returned, home) if isinstance(returned, str) else returned)  # noqa: S307
    return found


def test_every_type_the_facade_hands_out_is_exported() -> None:
    """What ``Pylo``, ``Run``, ``Summary`` and ``VerifyReport`` return is importable from ``pylo``,
    under its public name (``pylo.Summary``, never ``pylo._core.summary.Summary``)."""
    exported = {id(getattr(pylo, n)) for n in pylo.__all__} | {id(getattr(errors, n)) for n in errors.__all__}
    seen: set[type] = set()
    todo: list[type] = [pylo.Pylo]
    while todo:
        cls = todo.pop()
        for found in _handed_out(cls) - seen:
            seen.add(found)
            todo.append(found)
    assert sorted(c.__qualname__ for c in seen if id(c) not in exported) == []
    private = [c.__qualname__ for c in seen if any(part.startswith("_") for part in c.__module__.split("."))]
    assert private == []


def test_the_original_import_path() -> None:
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
