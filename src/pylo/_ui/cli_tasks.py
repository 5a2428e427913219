"""What the CLI loads from the user: the task (``MODULE:FUNCTION``) and the inputs file."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click
import cloudpickle

__all__ = ["ByValue", "load_task", "read_inputs"]


def load_task(spec: str) -> Callable[[Any], object]:
    """Import ``MODULE:FUNCTION`` (the current directory first, as ``python -m`` does).

    A module that lives under the current directory is pickled by value, so Dask workers on
    other machines can run it without having it installed. Raises ``click.BadParameter``.
    """
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise click.BadParameter(f"expected MODULE:FUNCTION, got {spec!r}", param_hint="task")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="task") from exc
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise click.BadParameter(f"{module_name!r} has no {qualname!r}", param_hint="task")
    if not callable(obj):
        raise click.BadParameter(f"{spec} is not callable", param_hint="task")
    task: Callable[[Any], object] = obj
    path = os.path.abspath(getattr(module, "__file__", None) or "/")
    if path.startswith(cwd + os.sep):
        cloudpickle.register_pickle_by_value(module)
        return ByValue(task)
    return task


class ByValue:
    """A task that travels by value. Dask pickles a task graph with plain ``pickle`` first,
    which would send the function by reference, i.e. as ``module.name``, to a scheduler and
    workers that do not have the module; this wrapper pickles the function with cloudpickle.
    It keeps the function's name, so the manifest records ``module:function``."""

    def __init__(self, fn: Callable[[Any], object]) -> None:
        self.fn = fn
        self.__module__ = fn.__module__
        self.__qualname__ = getattr(fn, "__qualname__", type(fn).__qualname__)
        self.__name__ = getattr(fn, "__name__", self.__qualname__)
        self.__wrapped__ = fn  # inspect.signature reads the function's own parameters

    def __call__(self, value: Any) -> object:
        return self.fn(value)

    def __reduce__(self) -> tuple[Any, ...]:
        code = getattr(self.fn, "__code__", None)
        return (_by_value, (cloudpickle.dumps(self.fn), getattr(code, "co_filename", None)))

    def __repr__(self) -> str:
        return f"<task {self.__module__}:{self.__qualname__} (by value)>"


def _by_value(data: bytes, filename: str | None = None) -> ByValue:
    fn = pickle.loads(data)
    if filename:
        _restore_filename(fn, filename)
    return ByValue(fn)


# cloudpickle writes every code object it pickles by value as coming from "<dynamic-code>", so a
# task's traceback on a Dask worker would not say which file it ran; the task's module is one
# file, so its functions get that name back.
_ERASED = "<dynamic-code>"


def _restore_filename(fn: Any, filename: str) -> None:
    """Give ``fn`` and the other functions of its (by-value) module their file name back."""
    candidates = [fn, *getattr(fn, "__globals__", {}).values()]
    for obj in candidates:
        code = getattr(obj, "__code__", None)
        if isinstance(obj, types.FunctionType) and isinstance(code, types.CodeType) and code.co_filename == _ERASED:
            obj.__code__ = _renamed(code, filename)


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def read_inputs(stream: TextIO, fmt: str) -> Iterator[Any]:
    """The inputs of a file, one per line, skipping blank lines. ``fmt``: ``json`` (every line
    is a JSON value), ``lines`` (every line is a string) or ``auto`` (JSON when it parses, the
    line as a string otherwise). Raises ``click.BadParameter`` naming a line that is not JSON."""
    for number, line in enumerate(stream, 1):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        if fmt == "lines":
            yield raw
            continue
        try:
            yield json.loads(raw)
        except json.JSONDecodeError as exc:
            if fmt == "json":
                raise click.BadParameter(f"line {number} is not JSON: {exc}", param_hint="--inputs") from None
            yield raw
