"""Drop what nothing loads from a llama-cpp-python wheel: its CUDA build then fits the GPU proof.

The wheel of `benchmarks/build_cuda_wheel.sh` is 143 MB, and the GPU proof carries at most 64 MiB:
- a wheel cannot hold symbolic links, so scikit-build-core stores each library of llama.cpp three
  times in ``llama_cpp/lib`` (``libggml-cuda.so``, ``.so.0``, ``.so.0.25.3``: 3 x 40 MB);
- llama.cpp's own CMake install lands beside the package too (``include/``, ``lib/`` with CMake and
  pkg-config files and a fourth copy of every library), for C users: Python never reads it.

What is loaded: by ctypes, by name, the libraries llama-cpp-python's modules ask for
(``load_shared_library("llama" | "ggml" | "mtmd" | "llava", <package>/lib)`` in llama_cpp.py,
_ggml.py, mtmd_cpp.py, llava_cpp.py: ``lib<name>.so``); by the dynamic loader, the sonames those
name in their ``NEEDED`` entries, and so on. Everything else is dropped, RECORD is rewritten to
match, and pip installs the result as usual.

    python -m benchmarks.slim_wheel IN.whl OUT.whl
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

logger = logging.getLogger("slim_wheel")

LIBRARY = re.compile(r"^lib[^/]*\.so(\.\d+)*$")
PACKAGE = "llama_cpp"
# The names llama-cpp-python's modules pass to load_shared_library (see the docstring).
LOADED_BY_NAME = ("llama", "ggml", "mtmd", "llava")
NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")


class WheelError(Exception):
    """A wheel that cannot be slimmed (not a zip, no RECORD, a library readelf cannot read)."""


def needed_libraries(data: bytes) -> list[str]:
    """The NEEDED entries of one ELF shared library (readelf, from binutils)."""
    with tempfile.NamedTemporaryFile(suffix=".so") as handle:
        handle.write(data)
        handle.flush()
        result = subprocess.run(["readelf", "-d", handle.name], capture_output=True, text=True)
    if result.returncode != 0:
        raise WheelError(f"readelf cannot read a library: {result.stderr.strip()}")
    return NEEDED.findall(result.stdout)


def libraries_to_keep(libraries: dict[str, list[str]]) -> set[str]:
    """Which of ``libraries`` (path in the wheel -> its NEEDED names) are loaded. Pure.

    A NEEDED name is looked up beside the library that needs it (every llama.cpp library has
    RUNPATH $ORIGIN).
    """
    roots = {f"{PACKAGE}/lib/lib{name}.so" for name in LOADED_BY_NAME}
    keep = roots & set(libraries)
    pending = list(keep)
    while pending:
        path = pending.pop()
        folder = PurePosixPath(path).parent
        for name in libraries[path]:
            candidate = str(folder / name)
            if candidate in libraries and candidate not in keep:
                keep.add(candidate)
                pending.append(candidate)
    return keep


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def slim_wheel(source: Path, target: Path) -> list[str]:
    """Write ``target``: ``source`` without the library copies nothing loads. Returns what was dropped."""
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise WheelError(f"{source} is not a readable wheel: {exc}") from None
    with archive:
        names = archive.namelist()
        records = [name for name in names if name.endswith(".dist-info/RECORD")]
        if len(records) != 1:
            raise WheelError(f"{source} has {len(records)} .dist-info/RECORD files, not one")
        record = records[0]
        libraries = {
            name: needed_libraries(archive.read(name))
            for name in names
            if LIBRARY.match(PurePosixPath(name).name)
        }
        keep = libraries_to_keep(libraries)
        if f"{PACKAGE}/lib/libllama.so" not in keep:
            raise WheelError(f"{source} has no {PACKAGE}/lib/libllama.so: not a llama-cpp-python wheel")
        dist_info = PurePosixPath(record).parent.name
        dropped = sorted(
            name
            for name in names
            if name not in keep
            and (name in libraries or PurePosixPath(name).parts[0] not in (PACKAGE, dist_info))
        )
        partial = target.with_name(target.name + ".part")
        lines = []
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for info in archive.infolist():
                if info.filename in dropped or info.filename == record:
                    continue
                data = archive.read(info)
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
                lines.append(_record_line(info.filename, data))
            lines.append(f"{record},,")
            out.writestr(archive.getinfo(record), "\n".join(lines) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    os.replace(partial, target)  # atomic: never a half-written wheel under the final name
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="slim_wheel: %(message)s")
    if not args.source.is_file():
        logger.error("%s: no such wheel (build it with benchmarks/build_cuda_wheel.sh)", args.source)
        return 1
    before = args.source.stat().st_size  # read first: the target may be the source
    try:
        dropped = slim_wheel(args.source, args.target)
    except WheelError as exc:
        logger.error("%s", exc)
        return 1
    logger.info(
        "dropped %d files nothing loads: %.1f MB -> %.1f MB",
        len(dropped),
        before / 1e6,
        args.target.stat().st_size / 1e6,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
