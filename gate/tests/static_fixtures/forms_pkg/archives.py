"""Archives and compressed files over memory, beside the same calls on files and the disk."""

import gzip
import io
import tarfile
import zipfile
from zipfile import ZipFile


async def zip_in_memory(entries: dict, path: str):
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, mode="w")  # twin: the archive is a buffer
    for name, data in entries.items():
        archive.writestr(name, data)  # twin: writes into the buffer
    archive.write(path)  # blocking: zipfile.ZipFile.write
    archive.close()  # twin: flushes into the buffer
    on_disk = zipfile.ZipFile(path)  # blocking: zipfile.ZipFile
    on_disk.read("a")  # blocking: zipfile.ZipFile.read
    return buffer.getvalue()


async def entered(data: bytes, target: str):
    with ZipFile(io.BytesIO(data)) as archive:  # twin: built on the line from a buffer
        first = archive.read("a")  # twin: an entered archive over memory
        archive.extractall(target)  # blocking: zipfile.ZipFile.extractall
    with tarfile.TarFile(fileobj=io.BytesIO(data)) as tar:  # twin: the fileobj is a buffer
        members = tar.getmembers()  # twin: reads the buffer
    with tarfile.TarFile(target) as on_disk:  # blocking: tarfile.TarFile
        on_disk.getnames()  # blocking: tarfile.TarFile.getnames
    tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115  # twin: the fileobj is a buffer
    tarfile.open(target)  # noqa: SIM115  # blocking: tarfile.TarFile.open
    return first, members


async def compressed(data: bytes, path: str, handle):
    gzip.GzipFile(fileobj=io.BytesIO(data)).read()  # twin: a buffer, on the line
    gzip.GzipFile(path).read()  # blocking: gzip.GzipFile, gzip.GzipFile.read
    gzip.GzipFile(fileobj=handle).read()  # blocking: gzip.GzipFile, gzip.GzipFile.read
