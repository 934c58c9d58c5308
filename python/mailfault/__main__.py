"""``python -m mailfault ARGS...`` runs the mailfault executable with ARGS."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

from ._binary import BinaryNotFound, find_binary


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        binary = find_binary()
    except BinaryNotFound as err:
        print(f"mailfault: {err}", file=sys.stderr)
        return 2
    if os.name == "posix" and argv is None:
        # Replace this process: signals (Ctrl-C, SIGTERM) reach the server
        # directly and its exit code is ours.
        os.execv(binary, [binary, *args])
    try:
        return subprocess.call([binary, *args])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
