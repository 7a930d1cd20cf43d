"""Runs made from other runs: the history of a fork, and a rewound run's history.

``init(fork_from="<id>?_step=N")`` starts a new run whose history is its parent's up to step N
followed by its own: :func:`copy_history` writes the parent's rows of steps <= N into the new run as
one segment, before the new run's writer starts, so every reader (the read API, SQL, the panels,
engines reading the Parquet files) sees one history with no knowledge of forks.

``init(resume_from="<id>?_step=N")`` rewinds a run to step N: :func:`rewind_history` writes the
rows of steps <= N as one segment whose name covers every segment it replaces (so a reader listing
the folder meanwhile reads the old set or the new file, never both, as a merge), then moves the
replaced files into ``scalars/rewound-<time>/``: hidden from readers (they read the stream folder's
own ``*.parquet``), not deleted.

Both return the summary state the new part of the run starts from: the last value of each key and
the aggregates (count, sum, min, max, first) of its numbers, over the rows kept. Media rows are not
carried into a fork (their files belong to the parent run).
"""

from __future__ import annotations

import os
import time

from tracker.store import layout, segments
from tracker.store.codec import KIND_BOOL, KIND_MEDIA, decode_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import pyarrow as pa


def parse_moment(text: Any, what: str) -> tuple[str, int]:
    """``"<run id>?_step=N"`` (W&B's RunMoment as text) -> ``(run id, N)``.

    Raises:
        UsageError: anything else (another metric than ``_step``, a negative step, no id).
    """
    from tracker.errors import UsageError

    run_id, metric, value = None, None, None
    if isinstance(text, str) and "?" in text:
        run_id, _, query = text.partition("?")
        metric, _, value = query.partition("=")
    else:  # W&B's RunMoment object: run, metric, value
        run_id, metric, value = getattr(text, "run", None), getattr(text, "metric", None), getattr(text, "value", None)
    if not run_id or metric != "_step":
        raise UsageError(f"{what}={text!r}: write it as '<run id>?_step=<step>' (only _step is supported, as in W&B)")
    try:
        step = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{what}={text!r}: the step must be an integer") from None
    if step < 0:
        raise UsageError(f"{what}={text!r}: the step must be >= 0")
    return str(run_id), step


def _read_until(stream_dir: str, names: list[str], max_step: int, drop_media: bool) -> pa.Table | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = []
    for name in names:
        table = pq.read_table(os.path.join(stream_dir, name), filters=[("step", "<=", max_step)],
                              read_dictionary=["key"])
        if drop_media and table.num_rows:
            kind = segments.array_numpy(table.column("kind"), "int8", -1)
            keep = kind != KIND_MEDIA
            if not keep.all():
                table = table.filter(pa.array(keep))
        if table.num_rows:
            parts.append(table.select(list(segments.COLUMNS)))
    if not parts:
        return None
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def _write(table: pa.Table, stream_dir: str, name: str) -> None:
    """Write rows read from other segments as one segment (keys dictionary-encoded again)."""
    import pyarrow as pa

    key = table.column("key").combine_chunks()
    if pa.types.is_dictionary(key.type):
        key = key.cast(pa.string())
    table = table.set_column(table.schema.get_field_index("key"), "key", key.dictionary_encode())
    segments.write_segment(table, stream_dir, name, durable=True)


def summary_state(table: pa.Table | None) -> dict[str, Any]:
    """The summary state (``last`` values and number aggregates) of the rows of ``table``."""
    import numpy as np

    state: dict[str, Any] = {"last": {}, "agg": {}, "manual": {}, "removed": []}
    if table is None or table.num_rows == 0:
        return state
    order = np.argsort(segments.array_numpy(table.column("step"), "int64", 0), kind="stable")
    keys = table.column("key").to_pylist()
    kinds = segments.array_numpy(table.column("kind"), "int8", -1)
    values = segments.array_numpy(table.column("value"), "float64", np.nan)
    texts = table.column("text").to_pylist()
    last: dict[str, Any] = {}
    agg: dict[str, list[float]] = {}
    for i in order.tolist():
        key, kind = keys[i], int(kinds[i])
        if kind == KIND_MEDIA:
            continue
        last[key] = decode_value(kind, float(values[i]), texts[i])
        v = float(values[i])
        if kind <= KIND_BOOL and v == v:
            a = agg.get(key)
            if a is None:
                agg[key] = [1, v, v, v, v]
            else:
                a[0] += 1
                a[1] += v
                a[2] = min(a[2], v)
                a[3] = max(a[3], v)
    state["last"], state["agg"] = last, agg
    return state


def copy_history(src_dir: str, dst_dir: str, max_step: int) -> dict[str, Any]:
    """Copy the parent's history rows of steps <= ``max_step`` into a new run (see the module)."""
    src = os.path.join(src_dir, "scalars")
    table = _read_until(src, layout.list_segments(src), max_step, drop_media=True)
    if table is not None:
        _write(table, os.path.join(dst_dir, "scalars"), layout.segment_name(0, 0, layout.new_writer_id()))
    return summary_state(table)


def rewind_history(run_dir: str, max_step: int) -> dict[str, Any]:
    """Keep a run's history rows of steps <= ``max_step``; move the replaced segments aside."""
    stream = os.path.join(run_dir, "scalars")
    names = layout.list_segments(stream)
    table = _read_until(stream, names, max_step, drop_media=False)
    parsed = [p for n in names if (p := layout.parse_segment(n))]
    if not parsed:
        return summary_state(None)
    lo, hi = min(p[0] for p in parsed), max(p[1] for p in parsed)
    name = layout.segment_name(lo, hi, layout.new_writer_id())
    if table is not None:
        _write(table, stream, name)
    aside = os.path.join(stream, f"rewound-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.makedirs(aside, exist_ok=True)
    for old in names:
        os.replace(os.path.join(stream, old), os.path.join(aside, old))
    return summary_state(table)
