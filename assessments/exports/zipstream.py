"""Writing a ZIP archive as a stream of bytes, member by member, chunk by chunk.

`zipfile` writes to any object with `write`: given one that cannot seek, it puts each member's sizes and
checksum in a data descriptor after the data, so nothing already sent has to be rewritten. The pipe below
keeps what was written only until the generator hands it on, so memory holds one chunk, not the archive.
ZIP64 records are written for members whose size is not known in advance or is near the 4 GiB limit,
and for the central directory of an archive past it (zipfile decides that itself).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from datetime import date

# Members this close to the classic ZIP limit (4 GiB, minus zipfile's 5% margin) get ZIP64 headers.
ZIP64_FROM = int(zipfile.ZIP64_LIMIT / 1.05) - 1
EARLIEST = date(1980, 1, 1)  # ZIP dates cannot be earlier


class _Pipe:
    """A write-only, non-seekable file whose contents are taken away as they are produced."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ZipStream:
    """`yield from stream.add(...)` for each member, then `yield from stream.close()`."""

    def __init__(self) -> None:
        self._pipe = _Pipe()
        self._archive = zipfile.ZipFile(self._pipe, mode="w", allowZip64=True)

    def _drain(self) -> Iterator[bytes]:
        data = self._pipe.take()
        if data:
            yield data

    def add(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        size: int | None = None,
        compress: bool = True,
        modified: date | None = None,
    ) -> Iterator[bytes]:
        """Write one member from its chunks, yielding the archive's bytes as they are produced.

        `size` is what the member is expected to hold: unknown or large, it gets ZIP64 headers.
        """
        day = max(modified or date.today(), EARLIEST)
        info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16  # an ordinary readable file once extracted
        if size is not None:
            info.file_size = size
        force_zip64 = size is None or size >= ZIP64_FROM
        with self._archive.open(info, mode="w", force_zip64=force_zip64) as member:
            for chunk in chunks:
                member.write(chunk)
                yield from self._drain()
        yield from self._drain()

    def close(self) -> Iterator[bytes]:
        """The central directory: the last bytes of the archive."""
        self._archive.close()
        yield from self._drain()
