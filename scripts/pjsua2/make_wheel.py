"""Pack a self-built pjsua2 SWIG binding into a wheel (used by scripts/build-pjsua2).

The wheel has the stock `pjsua2-python` wheel's module layout, so the engine
imports it the same way (``import pjsua2``, ``import pjsua2._pjsua2``)::

    pjsua2/__init__.py        re-exports the SWIG module
    pjsua2/pjsua2.py          SWIG's generated proxy module
    pjsua2/_pjsua2<EXT_SUFFIX> the extension (pjproject linked in statically)
    pjsua2/_version.py, pjsua2/_pjproject_ref

Its distribution name differs from the stock one (``pjsua2-dense``): pip then
keeps seeing the stock ``pjsua2-python`` as installed, so the engine's pinned
dependency does not make ``pip install -e .`` put the stock files back over
these. The dist-info also carries the ``config_site.h`` and a BUILD_INFO
file saying what was built from what.

``--print-tag`` prints the wheel tag of the running interpreter and exits.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import sysconfig
import zipfile
from pathlib import Path

INIT_PY = '''"""pjsua2, self-built by scripts/build-pjsua2 (see BUILD_INFO in the dist-info)."""

from . import pjsua2 as _bindings
from ._version import __version__
from .pjsua2 import *  # noqa: F403


def __getattr__(name):
    return getattr(_bindings, name)
'''


def wheel_tag() -> str:
    """cpXY-cpXY<abiflags>-<platform> of this interpreter (a local, non-manylinux build)."""
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{interpreter}-{interpreter}{sys.abiflags}-{platform}"


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(args: argparse.Namespace) -> Path:
    dist = args.name.replace("-", "_")
    tag = wheel_tag()
    ext_suffix = sysconfig.get_config_var("EXT_SUFFIX")
    info = f"{dist}-{args.version}.dist-info"
    files: dict[str, bytes] = {
        "pjsua2/__init__.py": INIT_PY.encode(),
        "pjsua2/_version.py": f'__version__ = "{args.version}"\n'.encode(),
        "pjsua2/_pjproject_ref": f"{args.pjproject_version}\n".encode(),
        "pjsua2/pjsua2.py": Path(args.proxy).read_bytes(),
        f"pjsua2/_pjsua2{ext_suffix}": Path(args.extension).read_bytes(),
        f"{info}/METADATA": (
            "Metadata-Version: 2.1\n"
            f"Name: {args.name}\n"
            f"Version: {args.version}\n"
            f"Summary: pjsua2 Python binding, pjproject {args.pjproject_version}, "
            "high-capacity build for the call-center engine\n"
            "License: GPL-2.0-or-later\n"
            f"Requires-Python: =={sys.version_info.major}.{sys.version_info.minor}.*\n"
        ).encode(),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: callcenter scripts/pjsua2/make_wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: {tag}\n"
        ).encode(),
        f"{info}/top_level.txt": b"pjsua2\n",
        f"{info}/config_site.h": Path(args.config_site).read_bytes(),
        f"{info}/BUILD_INFO": Path(args.build_info).read_bytes(),
    }
    record = f"{info}/RECORD"
    lines = [_record_line(name, data) for name, data in files.items()]
    lines.append(f"{record},,")
    files[record] = ("\n".join(lines) + "\n").encode()

    out = Path(args.out_dir) / f"{dist}-{args.version}-{tag}.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as whl:
        for name, data in files.items():
            # A fixed date: the same inputs give the same wheel bytes.
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if name.endswith(".so") else 0o644
            entry.external_attr = (0o100000 | mode) << 16  # a regular file, its mode
            whl.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    partial.replace(out)  # never leave a half-written wheel under the final name
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-tag", action="store_true")
    parser.add_argument("--name")
    parser.add_argument("--version")
    parser.add_argument("--pjproject-version")
    parser.add_argument("--extension", help="the built _pjsua2 shared object")
    parser.add_argument("--proxy", help="SWIG's generated pjsua2.py")
    parser.add_argument("--config-site")
    parser.add_argument("--build-info")
    parser.add_argument("--out-dir")
    args = parser.parse_args()
    if args.print_tag:
        print(wheel_tag())
        return
    missing = [k for k in ("name", "version", "pjproject_version", "extension", "proxy",
                           "config_site", "build_info", "out_dir") if not getattr(args, k)]
    if missing:
        parser.error("missing: " + ", ".join("--" + k.replace("_", "-") for k in missing))
    print(build_wheel(args))


if __name__ == "__main__":
    main()
