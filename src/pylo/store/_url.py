"""Where a store is: a path or an fsspec URL and its ``storage_options``, checked before fsspec
sees them (fsspec would fail later, deep inside the first request, or make a folder of a typo)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import fsspec

from ..errors import InvalidArgument

__all__ = ["as_url", "checked_options"]


def as_url(url: object) -> str:
    """``url`` as an fsspec URL; a plain path made absolute. Raises ``InvalidArgument``."""
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url:
        raise InvalidArgument(f"store must be a path or an fsspec URL, got {url!r}")
    if "://" not in url and "::" not in url:
        _refuse_mistyped_url(url)
        # A plain path, made absolute here: Dask workers resolve it against their own cwd.
        url = os.path.abspath(os.path.expanduser(url))
    return url


_SCHEME = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]+)(:/*|//)")


def _refuse_mistyped_url(path: str) -> None:
    """``s3:/bucket`` or ``s3//bucket`` would silently become a local folder named ``s3:``."""
    match = _SCHEME.match(path)
    if match and match.group(1).lower() in fsspec.available_protocols():
        scheme = match.group(1)
        raise InvalidArgument(
            f"store {path!r} looks like a mistyped URL; did you mean {scheme}://{path[match.end():]}? "
            f"(a local folder with that name: pass ./{path})"
        )


def checked_options(options: object) -> dict[str, Any]:
    """``storage_options`` must be a dict of keyword arguments for fsspec, and its ``*_kwargs``
    entries (``client_kwargs``, ``config_kwargs``…) dicts too: fsspec would fail later, deep
    inside the first request, with a bare ``TypeError``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidArgument(
            f"storage_options must be a dict of fsspec options, got {type(options).__name__} {options!r}"
        )
    for key, value in options.items():
        if not isinstance(key, str):
            raise InvalidArgument(f"storage_options keys must be strings, got {key!r}")
        if key.endswith("_kwargs") and not isinstance(value, Mapping):
            raise InvalidArgument(f"storage option {key} must be a dict, got {type(value).__name__} {value!r}")
    return dict(options)
