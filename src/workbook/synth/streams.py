"""Random streams addressable by row: one independent, well-mixed stream per (seed, table, column).

A value is `mix64(key + (row + 1) * gamma)`, SplitMix64's output function (Steele, Lea and Flood,
"Fast splittable pseudorandom number generators", 2014, with Stafford's Mix13 finalizer). Each stream
has its own 64-bit `key` and odd `gamma`, both taken from BLAKE2b of "seed/table/column", so two
streams are neither the same sequence shifted nor a linear function of each other (the defect of
combining engine hashes with XOR: `h(i, A) XOR h(i, B)` was one constant for every row). A value is a
pure function of (seed, table, column, row): any subset of rows can be drawn in any order, in any
chunking, on any machine, and gives the same numbers.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31, S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
TO_UNIT = 1.0 / (1 << 53)


CHUNK = 1 << 16  # rows per step: the working set stays in the CPU cache (no page faults per operation)


def mix64(x: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """Stafford's Mix13 on uint64 values, in place (a bijection with full avalanche)."""
    t = np.empty_like(x) if tmp is None else tmp[: len(x)]
    np.right_shift(x, S30, out=t)
    x ^= t
    x *= M1
    np.right_shift(x, S27, out=t)
    x ^= t
    x *= M2
    np.right_shift(x, S31, out=t)
    x ^= t
    return x


@lru_cache(maxsize=4096)
def stream_key(seed: int, table: str, column: str) -> tuple[np.uint64, np.uint64]:
    """The (key, odd gamma) of one stream, from BLAKE2b of its name: no two streams share either."""
    digest = hashlib.blake2b(f"{seed}/{table}/{column}".encode(), digest_size=16).digest()
    key = int.from_bytes(digest[:8], "little")
    gamma = int.from_bytes(digest[8:], "little") | 1
    return np.uint64(key), np.uint64(gamma)


class Streams:
    """Every random draw of one generation run: `u64`, `unit`, `below`, `uuid4` by (table, column, rows)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def u64(self, table: str, column: str, rows: np.ndarray) -> np.ndarray:
        """64 uniform random bits per row."""
        key, gamma = stream_key(self.seed, table, column)
        out = np.empty(len(rows), dtype=np.uint64)
        tmp = np.empty(min(CHUNK, len(rows)), dtype=np.uint64)
        for a in range(0, len(rows), CHUNK):
            x = out[a : a + CHUNK]
            np.add(rows[a : a + CHUNK], 1, out=x, casting="unsafe")
            x *= gamma
            x += key
            mix64(x, tmp)
        return out

    def unit(self, table: str, column: str, rows: np.ndarray) -> np.ndarray:
        """A uniform float in [0, 1) per row (53 random bits)."""
        key, gamma = stream_key(self.seed, table, column)
        out = np.empty(len(rows), dtype=np.float64)
        x = np.empty(min(CHUNK, len(rows)), dtype=np.uint64)
        tmp = np.empty_like(x)
        for a in range(0, len(rows), CHUNK):
            r = rows[a : a + CHUNK]
            v = x[: len(r)]
            np.add(r, 1, out=v, casting="unsafe")
            v *= gamma
            v += key
            mix64(v, tmp)
            v >>= S11
            np.multiply(v, TO_UNIT, out=out[a : a + len(r)])
        return out

    def below(self, table: str, column: str, rows: np.ndarray, n: int | np.ndarray) -> np.ndarray:
        """A uniform integer in [0, n) per row (n may differ per row)."""
        return np.minimum((self.unit(table, column, rows) * n).astype(np.int64), np.asarray(n) - 1)

    def uuid4(self, table: str, column: str, rows: np.ndarray) -> np.ndarray:
        """A random UUID (version 4, RFC 9562 variant) per row, as an (n, 16) uint8 array.

        Its 16 bytes are draws 2*row and 2*row + 1 of the column's stream, little-endian, with the
        version nibble (byte 6) and the variant bits (byte 8) set: 122 random bits.
        """
        n = len(rows)
        idx = np.empty(2 * n, dtype=np.int64)
        even = idx[0::2]
        np.multiply(rows, 2, out=even, casting="unsafe")
        np.add(even, 1, out=idx[1::2])
        pairs = self.u64(table, column, idx).reshape(n, 2)
        pairs[:, 0] &= np.uint64(~(0xF << 52) & 0xFFFFFFFFFFFFFFFF)
        pairs[:, 0] |= np.uint64(0x4 << 52)
        pairs[:, 1] &= np.uint64(~0xC0 & 0xFFFFFFFFFFFFFFFF)
        pairs[:, 1] |= np.uint64(0x80)
        return pairs.view(np.uint8)


# Distributions, by inverse transform of a uniform draw ---------------------------------------------


def zipf_rank(u: np.ndarray, n: int, s: float) -> np.ndarray:
    """Ranks 0..n-1 with P(rank = r) proportional to (r + 1)^-s (continuous inverse transform)."""
    if n <= 1:
        return np.zeros(len(u), dtype=np.int64)
    if abs(s - 1.0) < 1e-12:
        x = np.power(float(n) + 1.0, u)  # log-uniform on [1, n + 1)
    else:
        a = 1.0 - s
        x = np.power(u * ((n + 1.0) ** a - 1.0) + 1.0, 1.0 / a)
    return np.minimum(x.astype(np.int64) - 1, n - 1).clip(0)


def power(u: np.ndarray, exponent: float) -> np.ndarray:
    """u^exponent, by multiplication for small whole exponents (pow is ten times slower)."""
    if exponent == 1:
        return u
    if exponent in (2, 3, 4):
        out = u * u
        for _ in range(int(exponent) - 2):
            out *= u
        return out
    return np.power(u, exponent)


def power_index(u: np.ndarray, n: int, exponent: float) -> np.ndarray:
    """Indexes 0..n-1 drawn as floor(n * u^exponent): exponent > 1 favours the first indexes."""
    x = power(u, exponent)
    x *= n
    return np.minimum(x.astype(np.int64), n - 1)


def to_uuid_array(raw: np.ndarray, validity=None):  # noqa: ANN001, ANN201 - pyarrow buffer and array
    """An (n, 16) uint8 array as a pyarrow UUID array (Parquet logical type UUID); `validity` a bitmap."""
    import pyarrow as pa

    n = raw.shape[0]
    storage = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), n, [validity, pa.py_buffer(np.ascontiguousarray(raw))]
    )
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)
