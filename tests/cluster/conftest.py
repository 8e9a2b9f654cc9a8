"""What the cluster tests share: a folder for the servers they start of their own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.own_processes import make_base_dir


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder the broker's and the database's users can traverse, removed after the test."""
    folder = make_base_dir("vcs-cluster-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
