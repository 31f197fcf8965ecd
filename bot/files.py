"""Files Utväg writes outside the database (keys, backups): new, and their owner's alone."""

from __future__ import annotations

import os
from pathlib import Path


def create_private(path: Path) -> int:
    """A descriptor of a new file readable and writable by its owner alone, whatever the umask.

    Raises FileExistsError rather than write over a file, and OSError when the folder does not let us write."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)  # O_CREAT's mode passes through the umask, which can only take bits away; be sure
    return descriptor
