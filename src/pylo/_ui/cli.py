"""The ``pylo`` command line: run, inspect and resume executions in any store.

    pylo run MODULE:FUNCTION --inputs FILE|-     ─► a new execution ─► summary, exit code
    pylo ls STORE / status STORE ID / exceptions STORE ID   read JSON only: nothing is unpickled
    pylo resume STORE ID --task MODULE:FUNCTION  ─► a new execution of what was unfinished
    pylo cancel STORE ID                         ─► a cancel marker, seen by its workers anywhere
    pylo results STORE ID [--input]              ─► kept results as JSON lines (unpickles: trusted stores)
    pylo verify STORE ID [--repair]              ─► every damaged object, listed (JSON and opcodes only)
    pylo serve STORE [--port N] [--host H]       ─► a read-only web view and JSON API (JSON only)

An ID may be shortened to a unique prefix, or to the 8 characters that end it.

Exit codes (``EXIT_*``): 0 every input finished (or the read succeeded), 1 inputs remain
unfinished, 2 a usage error (bad option, bad id, task or inputs that cannot be loaded), 3 the store
or the execution cannot be read (unknown execution, missing or unreachable store, corrupt
snapshot), 4 the run itself failed (not the task: e.g. the cluster went away or refused the
task), 130 interrupted by Ctrl-C (the run was cancelled and flushed; resume it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click

from . import cli_text as text
from .cli_tasks import load_task, read_inputs
from .._config import Config
from .._core.summary import summarize
from ..errors import ExecutionClaimed, InvalidArgument, PyloError
from ..store import Store

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_STORE", "EXIT_UNFINISHED", "EXIT_USAGE", "cli", "main"]

EXIT_OK, EXIT_UNFINISHED, EXIT_USAGE, EXIT_STORE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class _Group(click.Group):
    """Turns pylo's errors into exit codes: a bad argument is a usage error (2), anything the
    store or an execution refuses is 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidArgument as exc:
            raise click.UsageError(str(exc)) from exc
        except (PyloError, OSError) as exc:
            click.echo(f"Error: {exc}", err=True)
            raise click.exceptions.Exit(EXIT_STORE) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # not the task's (those are recorded): the run itself broke
            click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            click.echo(f"Error: the run failed: {type(exc).__name__}: {exc}", err=True)
            raise click.exceptions.Exit(EXIT_FAILED) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=(
    "Exit codes: 0 all inputs finished, 1 inputs remain unfinished, 2 usage error, "
    "3 store or execution error, 4 the run itself failed, 130 interrupted."))
@click.version_option(package_name="pylo-dask")
@click.option("-v", "--verbose", is_flag=True, help="Log pylo's INFO lines to stderr.")
def cli(verbose: bool) -> None:
    """Resumable task executions on Dask, with their state in any fsspec store."""
    if verbose:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("pylo").setLevel(logging.INFO)


# -- shared options ----------------------------------------------------------------------------

def _parse_storage_options(_ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(raw)  # numbers, booleans, nested dicts
        except json.JSONDecodeError:
            options[key] = raw
    return options


storage_option = click.option(
    "-o", "--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
    callback=_parse_storage_options,
    help="fsspec storage option, repeatable; VALUE is JSON when it parses (e.g. anon=true, "
    'client_kwargs=\'{"endpoint_url": "http://127.0.0.1:5000"}\').',
)
json_flag = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _runner_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--workers", type=click.IntRange(min=1), help="pylo workers (default: the cluster's threads, or CPUs + 4 with --threads)."),
        click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler to use (default: a local cluster started for this command)."),
        click.option("--threads", is_flag=True, help="Run on threads of this process, without Dask."),
        click.option("--max-worker-failures", type=click.IntRange(min=0), default=1000, show_default=True, help="Failed attempts a worker tolerates before it gives up."),
        click.option("--max-failures", type=click.IntRange(min=0), help="Failed inputs the whole execution tolerates; one more and every worker stops (default: no limit)."),
        click.option("--max-failure-rate", type=click.FloatRange(0, 1), metavar="FRACTION", help="The same as a fraction of the inputs, e.g. 0.01 (judged once 100 inputs have concluded)."),
        click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True, help="Extra attempts per input."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds an attempt may take before it counts as failed."),
        click.option("--block-size", type=click.IntRange(min=1), default=10_000, show_default=True, help="Inputs per block (the unit of storage, progress and rerun)."),
        click.option("--flush-every", "flush", type=click.IntRange(min=1), default=1000, show_default=True, help="Flush progress every N attempts (and every few seconds)."),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr (when it is a terminal)."),
        click.option("--store-retry-seconds", "store_retry", type=click.FloatRange(0, 86_400), default=6.5, show_default=True,
                     help="How long a failing store operation is retried before the run fails."),
        storage_option,
        json_flag,
    ]):
        fn = option(fn)
    return fn


class _StoreMissing(click.ClickException):
    exit_code = EXIT_STORE


class _RunFailed(click.ClickException):
    exit_code = EXIT_FAILED


def _store(url: str, options: dict[str, Any]) -> Store:
    """The store at ``url``; exit 3 when there is nothing there."""
    store = Store(url, options)
    if not store.files.exists(store.layout.root):
        raise _StoreMissing(f"no pylo store at {url}")
    return store


# -- running -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _pylo(store: str, opts: dict[str, Any]) -> Iterator[Any]:
    from ..execution import Pylo

    config = dict(
        number_of_workers=opts["workers"], max_worker_failures=opts["max_worker_failures"],
        task_executions_before_flush=opts["flush"], retries=opts["retries"], timeout=opts["timeout"],
        block_size=opts["block_size"], store_results=opts.get("store_results", False),
        max_failures=opts["max_failures"], max_failure_rate=opts["max_failure_rate"],
    )
    Config(**config)  # a bad value (--timeout inf) is a usage error before any cluster starts
    if opts["threads"]:
        if opts["scheduler"]:
            raise click.UsageError("--threads and --scheduler exclude each other")
        yield Pylo.local_multithread(store, storage_options=opts["storage_options"],
                                     store_retry_seconds=opts["store_retry"], **config)
        return
    with contextlib.ExitStack() as stack:
        client = opts["scheduler"] or stack.enter_context(_local_client(opts["workers"]))
        try:
            pylo = stack.enter_context(Pylo.dask(client, store, storage_options=opts["storage_options"],
                                                 store_retry_seconds=opts["store_retry"], **config))
        except OSError as exc:  # the scheduler cannot be reached
            raise _RunFailed(f"cannot reach the Dask scheduler {opts['scheduler']}: {exc}") from exc
        yield pylo


@contextlib.contextmanager
def _local_client(workers: int | None) -> Iterator[Any]:
    """A local cluster of worker processes for one command, at most one per CPU."""
    from ..backends._dask import local_client

    cpus = os.cpu_count() or 1
    with local_client(min(workers or min(4, cpus), cpus)) as client:
        yield client


def _execute(pylo: Any, start: Callable[[], Any], opts: dict[str, Any]) -> None:
    try:
        # A Ctrl-C stops the run wherever it lands, even while the run is being launched.
        eid = pylo._blocking(start, opts["progress"])
    except KeyboardInterrupt:
        run = pylo._launched()
        if run is not None:
            click.echo(f"\ninterrupted: execution {run.id} was cancelled and keeps its state; resume it with\n"
                       f"  pylo resume {pylo.store.url} {run.id} --task TASK", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    summary = summarize(pylo.store, eid)
    _emit(summary.to_json() if opts["as_json"] else text.summary(summary), opts["as_json"])
    raise click.exceptions.Exit(EXIT_OK if summary.unfinished == 0 else EXIT_UNFINISHED)


store_results_flag = click.option(
    "--store-results", is_flag=True, help="Keep each finished input's return value (read them with `pylo results`).")


@cli.command(short_help="Run a task over the inputs of a file, in a new execution.")
@click.argument("task", metavar="MODULE:FUNCTION")
@click.option("--inputs", "inputs_file", type=click.File("r"), required=True, help="File of inputs, one per line; '-' reads stdin.")
@click.option("--format", "fmt", type=click.Choice(["auto", "json", "lines"]), default="auto", show_default=True,
              help="json: every line is a JSON value; lines: every line is a string; auto: JSON when it parses.")
@click.option("--store", default="pylo-store", show_default=True, help="Store path or fsspec URL.")
@store_results_flag
@_runner_options
def run(task: str, inputs_file: TextIO, fmt: str, store: str, **opts: Any) -> None:
    """Run MODULE:FUNCTION over the inputs of a file, in a new execution.

    MODULE is imported from the current directory or the installed packages. Prints the
    summary; exits 0 when every input finished, 1 when some remain unfinished.
    """
    fn = load_task(task)
    with _pylo(store, opts) as pylo:
        _execute(pylo, lambda: pylo.submit(read_inputs(inputs_file, fmt), fn), opts)


@cli.command(short_help="Rerun what an execution left unfinished, in a new execution.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@click.option("--task", required=True, metavar="MODULE:FUNCTION", help="The task to rerun the unfinished inputs with.")
@click.option("--force", is_flag=True, help="Stop a run of ID that is still alive (it flushes), then resume.")
@click.option("--only", "only", multiple=True, metavar="TYPE",
              help="Rerun only the failures of this exception type (or a subclass), repeatable: "
              "TimeoutError, mymodule.MyError. The others stay unfinished.")
@click.option("--pending/--no-pending", "pending", default=True, show_default=True,
              help="Rerun the inputs never attempted too.")
@store_results_flag
@_runner_options
def resume(store: str, execution_id: str, task: str, force: bool, only: tuple[str, ...], pending: bool,
           **opts: Any) -> None:
    """Rerun the failed and pending inputs of execution ID in a new execution.

    Exits 0 when every input is now finished, 1 when some remain unfinished, 3 when another
    run of ID is still alive (attach to it with ``pylo attach``, or ``--force`` to stop it first).
    """
    fn = load_task(task)
    s = _store(store, opts["storage_options"])
    execution_id = s.resolve(execution_id)
    s.read_manifest(execution_id)  # unknown id: exit 3 before a cluster starts
    with _pylo(store, opts) as pylo:
        _execute(pylo, lambda: _resume(pylo, execution_id, fn, force, only or None, pending), opts)


def _resume(pylo: Any, execution_id: str, fn: Callable[[Any], object], force: bool,
            only: tuple[str, ...] | None, pending: bool) -> Any:
    try:
        return pylo.resume(execution_id, fn, force=force, only=only, pending=pending)
    except ExecutionClaimed as exc:  # the library's advice names its argument; here it is a flag
        raise ExecutionClaimed(str(exc).replace("force=True", "--force")) from None


@cli.command(short_help="Ask a running execution to stop, wherever it runs.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@storage_option
def cancel(store: str, execution_id: str, storage_options: dict[str, Any]) -> None:
    """Ask every worker of execution ID, on any Dask cluster, to stop between inputs.

    The workers flush what they did and keep their state; resume it later. Returns at once.
    Workers on threads of another process see the request too (they poll the store).
    """
    s = _store(store, storage_options)
    execution_id = s.resolve(execution_id)
    s.read_manifest(execution_id)
    s.request_cancel(execution_id)
    click.echo(f"cancel requested for {execution_id}; its workers stop between inputs")


@cli.command(short_help="Follow an execution that runs elsewhere until it ends.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@storage_option
def attach(store: str, execution_id: str, storage_options: dict[str, Any]) -> None:
    """Follow execution ID, wherever it runs (a dead notebook's Dask workers, another client),
    with its progress read from the store, until no worker of it is alive. Ctrl-C stops following
    (the run goes on). Exits 0 when every input finished, 1 otherwise."""
    from ..execution import Pylo
    from .progress import follow

    pylo = Pylo.local_multithread(store, storage_options=storage_options)
    run = pylo.attach(execution_id)
    with follow(run, enabled=True):
        run.wait()
    summary = pylo.summary(execution_id)
    click.echo(str(summary))
    sys.exit(0 if summary.unfinished == 0 else 1)


# -- reading (JSON only, never a pickle) -------------------------------------------------------

@cli.command(name="ls", short_help="List the executions of a store, newest first.")
@click.argument("store")
@click.option("--limit", type=click.IntRange(min=1), help="Show the newest N executions only.")
@storage_option
@json_flag
def ls(store: str, limit: int | None, storage_options: dict[str, Any], as_json: bool) -> None:
    """List the executions in STORE, newest first, with their counts and parent."""
    s = _store(store, storage_options)
    ids = s.executions()[::-1][:limit]  # newest first; a resumed execution above its parent
    rows = [text.ls_row(s, eid) for eid in ids]
    _emit(rows if as_json else text.ls_table(rows), as_json)


@cli.command(short_help="Counts of an execution, per worker, with gave-up flags and times.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@storage_option
@json_flag
def status(store: str, execution_id: str, storage_options: dict[str, Any], as_json: bool) -> None:
    """Counts of execution ID: finished, failed, pending, per worker (gave up, times).

    Exits 0 when every input finished, 1 when some remain unfinished (or it still runs).
    """
    s = _store(store, storage_options)
    summary = summarize(s, s.resolve(execution_id))
    _emit(summary.to_json() if as_json else text.summary(summary, workers=True), as_json)
    raise click.exceptions.Exit(EXIT_OK if summary.unfinished == 0 else EXIT_UNFINISHED)


@cli.command(short_help="The failed attempts of an execution, grouped by exception type.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@click.option("--traceback", "tracebacks", is_flag=True, help="Show the first traceback of each exception type.")
@click.option("--positions", "max_positions", type=click.IntRange(min=0), default=20, show_default=True,
              help="Positions shown per type in text output (JSON lists them all).")
@storage_option
@json_flag
def exceptions(store: str, execution_id: str, tracebacks: bool, max_positions: int,
               storage_options: dict[str, Any], as_json: bool) -> None:
    """The failed attempts of execution ID, grouped by exception type, most frequent first.

    Inputs are shown by their position in the execution; nothing is unpickled.
    """
    s = _store(store, storage_options)
    execution_id = s.resolve(execution_id)
    groups = text.exception_groups(s.read_records(s.read_manifest(execution_id)))
    if as_json:
        _emit({"execution_id": execution_id, "groups": [g.to_json(tracebacks) for g in groups]}, True)
    else:
        _emit(text.exceptions(execution_id, groups, tracebacks=tracebacks, max_positions=max_positions), False)


# -- results (these are pickles: the store must be trusted) ----------------------------------

@cli.command(short_help="The kept results of an execution, as JSON lines.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@click.option("--input", "with_input", is_flag=True, help="Include each input next to its result.")
@storage_option
def results(store: str, execution_id: str, with_input: bool, storage_options: dict[str, Any]) -> None:
    """The results of execution ID (run with --store-results), one JSON line per finished input
    in input order, inherited ones included: {"result": ...}, with --input {"input": ..., "result": ...}.

    Results are unpickled: read only stores you trust. Exits 2 at the first value that is not
    JSON (read those with Pylo.get_results), 3 when the results were not kept.
    """
    from .._core.results import read_results

    for n, (value, result) in enumerate(read_results(_store(store, storage_options), execution_id)):
        row = {"input": value, "result": result} if with_input else {"result": result}
        try:
            line = json.dumps(row, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise _NotJson(
                f"result {n} (input {value!r:.80}) is not JSON-able ({exc}); read it in Python with "
                f"Pylo.get_results({execution_id!r})"
            ) from exc
        click.echo(line)


class _NotJson(click.ClickException):
    exit_code = EXIT_USAGE


@cli.command(short_help="Check every object of an execution and its parents; report all damage.")
@click.argument("store")
@click.argument("execution_id", metavar="ID")
@click.option("--repair", is_flag=True, help="Remove the temporary files that writers killed mid-write left.")
@storage_option
@json_flag
def verify(store: str, execution_id: str, repair: bool, storage_options: dict[str, Any], as_json: bool) -> None:
    """Check every object of execution ID and its parents, without unpickling anything.

    Exits 0 when nothing is damaged, 3 when something is (each damaged object is listed).
    """
    from .._core.verify import verify_execution

    s = _store(store, storage_options)
    report = verify_execution(s, s.resolve(execution_id), repair=repair)
    if as_json:
        _emit({"execution_id": report.execution_id, "checked": report.checked, "ok": report.ok,
               "problems": [dataclasses.asdict(p) for p in report.problems],
               "leftovers": list(report.leftovers), "repaired": report.repaired}, True)
    else:
        _emit(str(report), False)
    raise click.exceptions.Exit(EXIT_OK if report.ok else EXIT_STORE)


@cli.command(short_help="A read-only web view of a store's executions and jobs, with a JSON API.")
@click.argument("store")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8321, show_default=True,
              help="TCP port (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the store to the network, unauthenticated.")
@click.option("--refresh", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between live updates of a running execution's page.")
@storage_option
def serve(store: str, port: int, host: str, refresh: float, storage_options: dict[str, Any]) -> None:
    """Serve a read-only web view of STORE: executions, live progress, workers, exceptions
    grouped by type, engine jobs; the same data as JSON under /api/. Reads JSON objects only,
    never a pickle. Stop it with Ctrl-C.
    """
    from .web import is_loopback, web_server

    _store(store, storage_options)
    try:
        server = web_server(store, storage_options, host=host, port=port, refresh=refresh)
    except OSError as exc:  # the port is taken, the address is not ours
        raise _RunFailed(f"cannot listen on {host}:{port}: {exc}") from exc
    if not is_loopback(host):
        click.echo(f"warning: {server.url} is reachable from other machines and unauthenticated: "
                   "anyone who reaches it can read this store", err=True)
    click.echo(f"pylo web view of {server.view.store.url} at {server.url}/ (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.view.pool.shutdown(wait=False, cancel_futures=True)


@cli.command(short_help="The main job: 10,000 inputs on a local Dask cluster, some fail, then resume.")
@click.option("--store", default="pylo-demo-store", show_default=True, help="Store path or fsspec URL.")
@click.option("--inputs", "n_inputs", default=10_000, show_default=True, help="Number of inputs.")
@click.option("--workers", default=2, show_default=True, help="Local Dask worker processes.")
def demo(store: str, n_inputs: int, workers: int) -> None:
    """Run the main job: a flaky task over 10,000 inputs on a local Dask cluster, then resume it."""
    from .demo import run_demo

    left = run_demo(store, echo=click.echo, n_inputs=n_inputs, n_workers=workers)
    sys.exit(0 if left == 0 else 1)


def _emit(out: Any, as_json: bool) -> None:
    click.echo(json.dumps(out, indent=1) if as_json else out)


def main() -> None:
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
