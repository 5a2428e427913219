"""The ``pylo`` command line: run, inspect and resume executions in any store."""

from __future__ import annotations

import sys

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pylo-dask")
def cli() -> None:
    """Resumable task executions on Dask, with their state in any fsspec store."""


@cli.command()
@click.option("--store", default="pylo-demo-store", show_default=True, help="Store path or fsspec URL.")
@click.option("--inputs", "n_inputs", default=10_000, show_default=True, help="Number of inputs.")
@click.option("--workers", default=2, show_default=True, help="Local Dask worker processes.")
def demo(store: str, n_inputs: int, workers: int) -> None:
    """Run the main job: a flaky task over 10,000 inputs on a local Dask cluster, then resume it."""
    from ._demo import run_demo

    left = run_demo(store, echo=click.echo, n_inputs=n_inputs, n_workers=workers)
    sys.exit(0 if left == 0 else 1)


def main() -> None:
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
