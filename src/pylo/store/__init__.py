"""The store: an fsspec location holding every execution's manifest, inputs, progress and errors.

Layout (a format other clusters, versions and the CLI read; every object written once, never
modified)::

    {root}/{execution}/execution.json               manifest (JSON)
    {root}/{execution}/inputs/{block}               (root positions | None, inputs) — cloudpickle;
                                                    or a pack of consecutive blocks (see _input_packs)
    {root}/{execution}/progress/{block}/{seq}-{w}   progress segment (JSON)
    {root}/{execution}/errors/{block}/{seq}-{w}     exception records (JSON, pickles base64)
    {root}/{execution}/results/{block}/{seq}-{w}    return values (store_results): JSON header, pickles
    {root}/{execution}/workers/{worker}.json        a worker's final outcome (JSON)
    {root}/{execution}/cancel.json                  present once a cancel was requested
    {root}/{execution}/task                         the task and its config, for Dask workers — cloudpickle
    {root}/{execution}/leases/{name}.json           heartbeats of what runs it (JSON, see _leases)
    {root}/{execution}/claims/…                     who runs or resumes it (JSON, see _claims)

Reading inputs or exception objects unpickles them: the store must be trusted. Manifests,
progress and worker files are JSON and are read without unpickling anything.

The modules, each one concern; the store depends on nothing of pylo above it (``errors``,
``_config`` and ``_clock`` sit below)::

    _store       Store: the facade every caller uses; routes to the modules below
    _fs          Files: the one fsspec boundary (atomic and create-only writes, retries)
    _layout      object names, execution ids, format version, size limits
    _manifest, _segments, _exception_records, _results, _input_packs, _inputs
                 one encoding each (segments merge by position; inputs load back checked)
    _listing     which executions a store holds, in parent-before-child order; short ids
    _leases      heartbeats: when something of an execution last proved alive
    _heartbeat   the thread that renews a lease and watches for a cancel
    _claims      the claim rules, pure: (what the store holds, the time) → verdict
    _claiming    claims read, judged and written; force waits on the injected clock
    _url         store paths and storage_options checked before fsspec sees them
"""

from __future__ import annotations

from ._claims import Claim
from ._exception_records import ExceptionRecord, record_failure, to_record
from ._heartbeat import Heartbeat
from ._input_packs import encode_pack
from ._inputs import InputsReader, dump_inputs
from ._layout import new_execution_id, validate_execution_id
from ._leases import Lease
from ._listing import order_by_parents
from ._manifest import BlockInfo, Manifest
from ._segments import BlockState, Positions, Segment
from ._store import Store

__all__ = [
    "BlockInfo",
    "BlockState",
    "Claim",
    "ExceptionRecord",
    "Heartbeat",
    "InputsReader",
    "Lease",
    "Manifest",
    "Positions",
    "Segment",
    "Store",
    "dump_inputs",
    "encode_pack",
    "new_execution_id",
    "order_by_parents",
    "record_failure",
    "to_record",
    "validate_execution_id",
]
