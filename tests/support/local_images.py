"""The images docker-compose.yml starts from, built here from Debian's packages.

Public image registries are not reachable from the machines the compose test runs on, so
`postgres:15`, `rabbitmq:3.13-management`, `redis:7`, `python:3.11-slim`, `node:20` and
`nginx` are replaced by images of Debian 12's packages (deploy/local-images): debootstrap makes
a root file system, `podman import` turns it into the base image, and each Containerfile adds
one server to it. The one exception is Node: Debian 12 has 18, Vite needs 20.19, so the node
image takes the machine's own `node` binary and npm from the npm registry. Debian's package
mirror, PyPI and the npm registry are reachable; the machine's own certificate authorities go
into the base image, so that pip and npm inside a build trust what the machine trusts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL_IMAGES_DIR = ROOT / "deploy" / "local-images"
DEBIAN_IMAGE = "vcs-local/debian:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


@dataclass(frozen=True)
class LocalImage:
    name: str
    containerfile: str
    # The machine's `node` goes into its build context (Debian 12's Node 18 is too old for Vite).
    needs_node: bool = False


PYTHON = LocalImage("vcs-local/python:3.11", "python.Containerfile")
POSTGRES = LocalImage("vcs-local/postgres:15", "postgres.Containerfile")
RABBITMQ = LocalImage("vcs-local/rabbitmq:3.10-management", "rabbitmq.Containerfile")
REDIS = LocalImage("vcs-local/redis:7", "redis.Containerfile")
NODE = LocalImage("vcs-local/node:20", "node.Containerfile", needs_node=True)
NGINX = LocalImage("vcs-local/nginx", "nginx.Containerfile")
ALL = (PYTHON, POSTGRES, RABBITMQ, REDIS, NODE, NGINX)


def podman_env() -> dict[str, str]:
    """podman as the test runs it: runc, cgroupfs, the host's network (containers.conf)."""
    return {**os.environ, "CONTAINERS_CONF": str(LOCAL_IMAGES_DIR / "containers.conf")}


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=podman_env(), check=check, capture_output=True, text=True
    )


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def ensure_debian(log: Path) -> None:
    """The base image: Debian 12 minbase, as debootstrap makes it (about 30 s, 200 MB)."""
    if image_exists(DEBIAN_IMAGE):
        return
    with tempfile.TemporaryDirectory(prefix="vcs-rootfs-") as folder:
        rootfs = Path(folder) / "rootfs"
        with log.open("a") as out:
            subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # As in Debian's official images: packages never start their services at install.
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        # Installed by update-ca-certificates when an image adds ca-certificates.
        target = rootfs / "usr/local/share/ca-certificates"
        target.mkdir(parents=True, exist_ok=True)
        for authority in sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []:
            shutil.copy(authority, target / authority.name)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            subprocess.run(
                ["podman", "import", "-", DEBIAN_IMAGE],
                stdin=tar.stdout,
                env=podman_env(),
                check=True,
                capture_output=True,
            )
        if tar.returncode != 0:
            raise RuntimeError("tar of the debootstrap root file system failed")


def build(image: LocalImage, log: Path) -> None:
    """podman build of one Containerfile; its layer cache makes a rebuild take seconds."""
    with tempfile.TemporaryDirectory(prefix="vcs-image-") as folder:
        context = Path(folder)
        for source in LOCAL_IMAGES_DIR.iterdir():
            if source.is_file():
                shutil.copy(source, context / source.name)
        if image.needs_node:
            node = shutil.which("node")
            if node is None:
                raise RuntimeError("the node image takes this machine's node: install Node 20")
            shutil.copy(node, context / "node")
        with log.open("a") as out:
            subprocess.run(
                [
                    *("podman", "build", "--build-arg", f"DEBIAN_IMAGE={DEBIAN_IMAGE}"),
                    *("-f", str(context / image.containerfile), "-t", image.name, str(context)),
                ],
                env=podman_env(),
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


def ensure_all(log: Path) -> None:
    ensure_debian(log)
    for image in ALL:
        build(image, log)


#: On every image deploy/ and deploy/local-images build, so that what a rebuild leaves
#: untagged can be removed without touching anyone else's images.
PROJECT_LABEL = "vcs.project=voice-campaign-service"


def prune_dangling() -> None:
    """Remove our untagged images: each rebuild after a change leaves the old layers behind."""
    podman("image", "prune", "--force", "--filter", f"label={PROJECT_LABEL}")
