"""Finding the ``mailfault`` executable."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import List, Optional, Union

__all__ = ["find_binary", "BinaryNotFound"]

_EXE = "mailfault.exe" if os.name == "nt" else "mailfault"


class BinaryNotFound(FileNotFoundError):
    """The ``mailfault`` executable could not be found."""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _wheel_candidates() -> List[Path]:
    """Where pip puts the executable that ships inside the wheel."""
    dirs: List[Path] = []
    scripts = sysconfig.get_path("scripts")
    if scripts:
        dirs.append(Path(scripts))
    # `pip install --user` puts scripts in the user scheme's directory.
    try:
        user_scripts = sysconfig.get_path("scripts", f"{os.name}_user")
    except KeyError:
        user_scripts = None
    if user_scripts:
        dirs.append(Path(user_scripts))
    # A venv's interpreter sits next to its scripts, even when it was not
    # activated (sysconfig still answers for that interpreter).
    dirs.append(Path(sys.executable).parent)
    seen: List[Path] = []
    for d in dirs:
        candidate = d / _EXE
        if candidate not in seen:
            seen.append(candidate)
    return seen


def find_binary(binary: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
    """Return the path of the ``mailfault`` executable.

    Looked up in this order: the ``binary`` argument, the ``MAILFAULT_BIN``
    environment variable, the executable installed with this package (the
    interpreter's scripts directory), then ``PATH``.
    """
    if binary is not None:
        path = Path(binary)
        if not _is_executable(path):
            raise BinaryNotFound(
                f"binary={str(binary)!r} is not an executable file; pass the path of a "
                "built mailfault (e.g. target/release/mailfault) or leave binary= unset "
                "to use the one installed with the mailfault package"
            )
        return str(path.resolve())
    env = os.environ.get("MAILFAULT_BIN")
    if env:
        path = Path(env)
        if not _is_executable(path):
            raise BinaryNotFound(
                f"MAILFAULT_BIN={env!r} is not an executable file; point it at a built "
                "mailfault (e.g. target/release/mailfault) or unset it"
            )
        return str(path.resolve())
    tried = _wheel_candidates()
    for candidate in tried:
        if _is_executable(candidate):
            return str(candidate)
    on_path = shutil.which("mailfault")
    if on_path:
        return on_path
    raise BinaryNotFound(
        "the mailfault executable was not found (looked in "
        + ", ".join(str(p) for p in tried)
        + " and on PATH); install the wheel with `pip install mailfault`, "
        "or pass binary=... / set MAILFAULT_BIN to a built target/release/mailfault"
    )
