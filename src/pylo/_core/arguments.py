"""What a user hands to ``Pylo``, checked before any work: the inputs, the task, and the script
that starts a local cluster. Each refusal is an ``InvalidArgument`` that says what to do instead."""

from __future__ import annotations

import ast
import collections.abc
import inspect
import os
import sys
import types
from collections.abc import Callable

from ..errors import InvalidArgument

__all__ = ["check_inputs", "check_main_guard", "check_one_argument"]


def check_main_guard() -> None:
    """Refuse to start a local cluster from the unguarded top level of a script. Its worker
    processes start by re-running the script (multiprocessing's "spawn"), which would start a
    cluster of its own in each of them: hundreds of lines ending in "Nanny failed to start"."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if main is None or not script or not os.path.isfile(script):
        return  # a notebook, a REPL, python -c: nothing re-runs it
    frame: types.FrameType | None = sys._getframe(1)
    line = None
    while frame is not None:  # the outermost frame running the script's own top level
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None or _guarded(script, line):
        return
    raise InvalidArgument(
        f"Pylo.dask(None, ...) starts a local Dask cluster, whose worker processes begin by "
        f"re-running {os.path.basename(script)}, line {line} included. Put the script's work under\n"
        "    if __name__ == \"__main__\":\n"
        "so that it runs only in the process you started (or pass a distributed.Client)."
    )


def _guarded(script: str, line: int) -> bool:
    """Whether ``line`` of ``script`` lies inside an ``if __name__ == "__main__":`` block."""
    try:
        with open(script, "rb") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return True  # cannot tell: do not stand in the way
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            if any(child.lineno <= line <= (child.end_lineno or child.lineno) for child in node.body):
                return True
    return False


def _is_main_test(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, *test.comparators]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def check_inputs(inputs: object) -> None:
    """A string or bytes would run the task once per character, a mapping once per key: both
    are almost always a mistake, so both are refused with what to write instead."""
    if isinstance(inputs, (str, bytes, bytearray)):
        raise InvalidArgument(
            f"inputs must be an iterable of inputs, got a {type(inputs).__name__} (which would run the "
            f"task once per character); to run it on one string, pass [{inputs[:20]!r}]"
        )
    if isinstance(inputs, collections.abc.Mapping):
        raise InvalidArgument(
            "inputs must be an iterable of inputs, got a mapping: pass list(d) for its keys, "
            "list(d.values()) or list(d.items()) for (key, value) pairs"
        )


def check_one_argument(task: Callable[..., object]) -> None:
    """The task is called with one input: refuse one that cannot take exactly one argument."""
    try:
        signature = inspect.signature(task)
    except (TypeError, ValueError):  # a builtin or a C callable without a signature: try it at run time
        return
    try:
        signature.bind(None)
    except TypeError as exc:
        name = getattr(task, "__qualname__", type(task).__qualname__)
        raise InvalidArgument(
            f"task {name}{signature} cannot be called with one input ({exc}); bind the other "
            "arguments first, e.g. with functools.partial"
        ) from None
