"""The optional dependencies, and the one message that names the extra which installs each.

A user who meets a missing package should read the exact ``pip install`` line to run, not the
name of a module they never asked for (``s3fs``, ``adlfs``, ``pyarrow``).
"""

from __future__ import annotations

import importlib
import types

__all__ = ["EXTRAS", "extra_for_protocol", "install_hint", "require"]

#: Each optional feature: the extra that installs it, as named in pyproject.toml.
EXTRAS: dict[str, str] = {
    "s3fs": "s3",
    "gcsfs": "gcs",
    "adlfs": "azure",
    "pandas": "dataframe",
    "pyarrow": "dataframe",
}

#: fsspec protocols served by a package of an extra (fsspec itself serves file://, memory://...).
_PROTOCOLS: dict[str, str] = {
    "s3": "s3", "s3a": "s3",
    "gs": "gcs", "gcs": "gcs",
    "az": "azure", "abfs": "azure", "abfss": "azure", "adl": "azure",
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra`` (quoted for every shell)."""
    return f"pip install 'pylo-dask[{extra}]'"


def require(module: str, feature: str) -> types.ModuleType:
    """Import ``module`` for ``feature`` (e.g. ``"exceptions_frame"``); raises ``ImportError``
    naming the extra to install when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        extra = EXTRAS.get(package, "all")
        raise ImportError(
            f"{feature} needs {package}, an optional dependency: {install_hint(extra)}"
        ) from exc


def extra_for_protocol(url: str) -> str | None:
    """The extra whose package serves the protocol of ``url`` (``None``: fsspec's own, or unknown)."""
    protocol, sep, _ = url.partition("://")
    return _PROTOCOLS.get(protocol.lower()) if sep else None
