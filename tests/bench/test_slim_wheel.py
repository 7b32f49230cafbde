"""benchmarks/slim_wheel.py on a wheel laid out as llama-cpp-python's, with real ELF libraries built here."""

import base64
import ctypes
import hashlib
import subprocess
import sys
import zipfile

import pytest

from benchmarks.slim_wheel import WheelError, libraries_to_keep, main, slim_wheel
from tests.rig.tools import program


@pytest.fixture(autouse=True)
def _compiler_and_binutils() -> None:
    # A machine with a C compiler has binutils (the linker is in it), and so readelf.
    for name in ("cc", "readelf"):
        program(name, installed_by="apt-get install gcc binutils")


DIST_INFO = "llama_cpp_python-0.3.36.dist-info"
WHEEL_NAME = "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"


def _library(directory, soname, needs=()):
    """A shared library with ``soname``, NEEDing ``needs`` (built beside it), found via $ORIGIN."""
    source = directory / f"{soname}.c"
    source.write_text(f"int {soname.split('.')[0].replace('-', '_')}_value(void) {{ return 7; }}\n")
    output = directory / soname
    links = [f"-l:{name}" for name in needs]
    subprocess.run(
        ["cc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-Wl,-rpath,$ORIGIN", "-Wl,--no-as-needed", "-o", str(output),
         str(source), f"-L{directory}", *links],
        check=True,
    )  # fmt: skip
    return output.read_bytes()


def _wheel(tmp_path):
    """llama-cpp-python's layout: three copies of each library, and the C install beside the package."""
    build = tmp_path / "build"
    build.mkdir()
    base = _library(build, "libggml-base.so.0")
    ggml = _library(build, "libggml.so.0", needs=["libggml-base.so.0"])
    llama = _library(build, "libllama.so.0", needs=["libggml.so.0", "libggml-base.so.0"])
    files = {"llama_cpp/__init__.py": b"__version__ = '0.3.36'\n", "include/llama.h": b"/* C users */\n"}
    for stem, data, version in (
        ("ggml-base", base, "0.25.3"),
        ("ggml", ggml, "0.25.3"),
        ("llama", llama, "0.5.0"),
    ):
        for name in (f"lib{stem}.so", f"lib{stem}.so.0", f"lib{stem}.so.{version}"):
            files[f"llama_cpp/lib/{name}"] = data
            files[f"lib/{name}"] = data
    files[f"{DIST_INFO}/METADATA"] = b"Metadata-Version: 2.1\nName: llama_cpp_python\nVersion: 0.3.36\n"
    files[f"{DIST_INFO}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: py3-none-linux_x86_64\n"
    )
    path = tmp_path / "in" / WHEEL_NAME
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(
            f"{DIST_INFO}/RECORD", "".join(f"{name},,\n" for name in files) + f"{DIST_INFO}/RECORD,,\n"
        )
    return path


def test_keeps_what_python_and_the_loader_load_and_nothing_else(tmp_path):
    source = _wheel(tmp_path)
    target = tmp_path / "out" / WHEEL_NAME
    target.parent.mkdir()
    dropped = slim_wheel(source, target)

    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        record = archive.read(f"{DIST_INFO}/RECORD").decode()
        contents = {name: archive.read(name) for name in names}
    # libllama.so and libggml.so by name (ctypes), the sonames they NEED (the loader).
    assert {name for name in names if "/lib/" in name} == {
        "llama_cpp/lib/libllama.so",
        "llama_cpp/lib/libggml.so",
        "llama_cpp/lib/libggml.so.0",
        "llama_cpp/lib/libggml-base.so.0",
    }
    assert not any(name.startswith(("lib/", "include/")) for name in names)
    assert set(dropped) | names == set(zipfile.ZipFile(source).namelist())
    # RECORD names every file with its true hash and size, so pip accepts the wheel.
    for line in record.splitlines():
        name, digest, size = line.split(",")
        if name == f"{DIST_INFO}/RECORD":
            continue
        data = contents[name]
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, int(size)) == (f"sha256={expected}", len(data))
    assert {line.split(",")[0] for line in record.splitlines()} == names


def test_the_slim_wheel_installs_and_its_library_loads_with_everything_it_needs(tmp_path):
    source = _wheel(tmp_path)
    target = tmp_path / "out" / WHEEL_NAME
    target.parent.mkdir()
    slim_wheel(source, target)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site),
         str(target)],
        check=True,
    )  # fmt: skip
    library = ctypes.CDLL(str(site / "llama_cpp" / "lib" / "libllama.so"))
    assert library.libllama_value() == 7


def test_a_needed_name_is_looked_up_beside_the_library_that_needs_it():
    libraries = {
        "llama_cpp/lib/libllama.so": ["libggml.so.0"],
        "llama_cpp/lib/libggml.so.0": [],
        "lib/libggml.so.0": [],
        "llama_cpp/lib/libunused.so": [],
    }
    assert libraries_to_keep(libraries) == {"llama_cpp/lib/libllama.so", "llama_cpp/lib/libggml.so.0"}


def test_bad_input_is_one_line_and_exit_1_with_nothing_written(tmp_path, caplog):
    not_a_wheel = tmp_path / "broken.whl"
    not_a_wheel.write_bytes(b"not a zip")
    target = tmp_path / "out.whl"
    assert main([str(not_a_wheel), str(target)]) == 1
    assert "is not a readable wheel" in caplog.text
    assert main([str(tmp_path / "missing.whl"), str(target)]) == 1
    assert "no such wheel (build it with benchmarks/build_cuda_wheel.sh)" in caplog.text
    assert not target.exists()

    other = tmp_path / "other.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("other/__init__.py", "")
        archive.writestr("other-1.0.dist-info/RECORD", "")
    with pytest.raises(WheelError, match="no llama_cpp/lib/libllama.so"):
        slim_wheel(other, target)
    assert not target.exists() and not (tmp_path / "out.whl.part").exists()
