"""A generated table as the design declares it, and its columns turned into Arrow arrays chunk by chunk.

A column's `values(rows)` returns, for the entity indexes `rows`:

- a numpy array: UUIDs as (n, 16) uint8, timestamps as int64 microseconds since 1970 (-1 is NULL
  when the column is nullable), booleans, integers;
- a constant (str) or None (all NULL);
- a word choice `(words, indexes)`;
- a text template `(format, part, ...)`: `format` has `{}` fields (`{{` and `}}` for braces), each part is
  an integer array, a word choice or another text template;
- `(value, null_mask)` for a nullable column, where `value` is any of the above.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .streams import to_uuid_array

TYPES = {
    "uuid": pa.uuid(),
    "text": pa.string(),
    "json": pa.json_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
    "integer": pa.int32(),
}


@dataclass
class Column:
    """One output column: its kind (a key of TYPES) and the function giving its values."""

    kind: str
    values: Callable[[np.ndarray], object]
    nullable: bool = False


@dataclass
class Table:
    """One output table: the entity indexes in file order, and its columns in file order."""

    name: str
    order: np.ndarray
    columns: dict[str, Column]


def schema(table: Table, first: pa.RecordBatch | None = None) -> pa.Schema:
    """The table's Arrow schema; text columns built as dictionaries keep that type (from `first`)."""
    fields = []
    for n, c in table.columns.items():
        t = TYPES[c.kind]
        if first is not None and pa.types.is_dictionary(first.column(n).type):
            t = first.column(n).type
        fields.append(pa.field(n, t, nullable=c.nullable))
    return pa.schema(fields)


def _is_words(v: object) -> bool:
    return (
        isinstance(v, tuple)
        and len(v) == 2
        and isinstance(v[0], list | tuple)
        and isinstance(v[1], np.ndarray)
    )


PRODUCT_LIMIT = 4096  # a template of word choices with at most this many combinations is a dictionary


def _choices(v: object) -> tuple[list[str], np.ndarray] | None:
    """A word choice, or a text template made only of word choices and literals, as (words, indexes).

    The template's combinations are spelled out once (their product is small), so each row is an
    index into them: no string is built per row, and Parquet writes the dictionary as it is.
    """
    if _is_words(v):
        return list(v[0]), v[1]
    if not (isinstance(v, tuple) and v and isinstance(v[0], str)):
        return None
    fmt, *parts = v
    choices = [_choices(part) for part in parts]
    if any(c is None for c in choices):
        return None
    sizes = [len(w) for w, _ in choices]
    if int(np.prod(sizes, dtype=np.int64)) > PRODUCT_LIMIT:
        return None
    words = [""]
    index = np.zeros(len(choices[0][1]) if choices else 0, dtype=np.int64)
    for w, idx in choices:
        words = [a + "\x00" + b for a in words for b in w]
        index = index * len(w) + idx
    spelled = [fmt.format(*combo.split("\x00")[1:]) for combo in words]
    return spelled, index


def _text(v: object, n: int) -> pa.Array | pa.Scalar:
    """A text value (see the module doc) as a string array, or a scalar for a constant."""
    if isinstance(v, str):
        return pa.scalar(v, pa.string())
    if isinstance(v, np.ndarray):
        return pc.cast(pa.array(v), pa.string())
    if _is_words(v):
        words, idx = v
        return pc.take(pa.array(list(words), pa.string()), pa.array(idx))
    if isinstance(v, tuple) and isinstance(v[0], str):
        fmt, *parts = v
        pieces: list = []
        it = iter(parts)
        for literal, fieldname, _, _ in string.Formatter().parse(fmt):
            if literal:
                pieces.append(pa.scalar(literal, pa.string()))
            if fieldname is not None:
                pieces.append(_text(next(it), n))
        arrays = [p for p in pieces if isinstance(p, pa.Array)]
        if not arrays:
            return pa.scalar("".join(p.as_py() for p in pieces), pa.string())
        return pc.binary_join_element_wise(*pieces, pa.scalar("", pa.string()))
    raise TypeError(f"not a text value: {type(v).__name__}")


def build(column: Column, rows: np.ndarray) -> pa.Array:
    """The column's values for `rows`, as an Arrow array of the column's type."""
    n = len(rows)
    v = column.values(rows)
    mask = None
    if (
        column.nullable
        and isinstance(v, tuple)
        and len(v) == 2
        and isinstance(v[1], np.ndarray)
        and v[1].dtype == bool
    ):
        v, mask = v
    kind = column.kind
    if v is None:
        return pa.nulls(n, TYPES[kind])
    if kind == "uuid":
        valid = None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))
        return to_uuid_array(v, valid)
    if kind == "timestamptz":
        v = np.asarray(v, dtype=np.int64)
        null = (v < 0) if column.nullable else None
        return pa.array(v, type=TYPES[kind], mask=null)
    if kind in ("boolean", "integer"):
        return pa.array(np.asarray(v), type=TYPES[kind], mask=mask)
    picked = _choices(v)
    if picked is not None:
        words, idx = picked
        dictionary = pa.array(words, pa.string())
        indices = pa.array(idx.astype(np.int32), mask=mask)
        if kind == "json":  # an extension type cannot hold a dictionary: spell the rows out
            return pa.ExtensionArray.from_storage(pa.json_(), pc.take(dictionary, indices))
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    text = _text(v, n)
    if isinstance(text, pa.Scalar):  # one string n times: offsets and bytes laid out directly
        raw = text.as_py().encode()
        offsets = (
            np.arange(0, (n + 1) * len(raw), len(raw) or 1, dtype=np.int32)[: n + 1]
            if raw
            else np.zeros(n + 1, np.int32)
        )
        text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n))
    if mask is not None:
        text = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), text)
    if kind == "json":
        return pa.ExtensionArray.from_storage(pa.json_(), text)
    return text
