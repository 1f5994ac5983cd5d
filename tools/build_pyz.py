"""Build dist/beacon.pyz: the beacon runtime as one file that any Python 3.8+ runs as it is.

    python3 tools/build_pyz.py [--out-dir DIR]     # then: python3 DIR/beacon.pyz ci exec -- ...

The archive holds the runtime modules pyproject.toml lists (tools/runtime_sources.py) and a
__main__.py that calls beacon.main(). It is reproducible: the same sources give the same
bytes on any machine, so anyone can check a release asset by rebuilding it. Members are in
sorted order, dated 1980-01-01 (the earliest date a zip can hold), mode 0644, and stored
uncompressed, because deflate's output depends on the zlib build (zlib-ng, Apple's) while
stored bytes depend on nothing. Beside it goes beacon.pyz.sha256, in sha256sum's format.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import stat
import sys
import time
import zipfile
from pathlib import Path

from runtime_sources import ROOT, runtime_sources

PYZ_NAME = "beacon.pyz"
SHEBANG = b"#!/usr/bin/env python3\n"
MAIN_MODULE = b"import sys\n\nimport beacon\n\nsys.exit(beacon.main())\n"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MEMBER_MODE = stat.S_IFREG | 0o644
PYZ_MODE = 0o755  # the shebang lets a runner start it as ./beacon.pyz too


def member_info(name: str) -> zipfile.ZipInfo:
    """A member header with nothing taken from the building machine: no time, owner or mode."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever builds it, so the mode below is read as one
    info.external_attr = MEMBER_MODE << 16
    return info


def pyz_bytes(members: dict[str, bytes]) -> bytes:
    """The zipapp: the shebang line, then a zip of the members in sorted order."""
    archive = io.BytesIO()
    archive.write(SHEBANG)
    with zipfile.ZipFile(archive, "w") as pyz:
        for name in sorted(members):
            pyz.writestr(member_info(name), members[name])
    return archive.getvalue()


def runtime_members(root: Path) -> dict[str, bytes]:
    members = {name: (root / name).read_bytes() for name in runtime_sources(root)}
    members["__main__.py"] = MAIN_MODULE
    return members


def write_pyz(content: bytes, out_dir: Path) -> Path:
    """Write beacon.pyz and beacon.pyz.sha256 (`<hex>  beacon.pyz`, for sha256sum -c)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pyz = out_dir / PYZ_NAME
    pyz.write_bytes(content)
    pyz.chmod(PYZ_MODE)
    digest = hashlib.sha256(content).hexdigest()
    (out_dir / f"{PYZ_NAME}.sha256").write_text(f"{digest}  {PYZ_NAME}\n")
    return pyz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist", help="where to write (default: dist/)")
    args = parser.parse_args()
    started = time.monotonic()
    pyz = write_pyz(pyz_bytes(runtime_members(ROOT)), args.out_dir)
    print(f"{pyz}: {pyz.stat().st_size} bytes in {time.monotonic() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
