"""A SeaweedFS cluster on loopback, one process per component: a master, volume servers (the
same rack, replication ``001``: each file on two servers), a filer and the S3 gateway, each on its
own ports and directory. The test run starts one to prove the archive on more than ``weed mini``;
the README's production section runs the same components under systemd.

Every port binds to 127.0.0.1: the filer and volume ports bypass S3 object lock.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from archive.storage.seaweed import _die_with_parent, pick_ports, weed_binary


class SeaweedCluster:
    def __init__(self, root: str | Path, access_key: str, secret_key: str, volumes: int = 3,
                 replication: str = "001", volume_size_mb: int = 8) -> None:
        self.root = Path(root)
        self.access_key, self.secret_key = access_key, secret_key
        self.replication, self.volume_size_mb = replication, volume_size_mb
        ports = pick_ports(3 + volumes)
        self.master_port, self.filer_port, self.s3_port = ports[:3]
        self.volume_ports = ports[3:]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.master_port}"

    def _common(self, port: int) -> list[str]:
        return ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-port={port}", f"-port.grpc={port + 10000}"]

    def commands(self) -> dict[str, tuple[list[str], Path]]:
        w = weed_binary()
        out: dict[str, tuple[list[str], Path]] = {
            "master": ([w, "master", *self._common(self.master_port), f"-mdir={self.root / 'master'}",
                        f"-defaultReplication={self.replication}", f"-volumeSizeLimitMB={self.volume_size_mb}",
                        "-telemetry=false"], self.root / "master")}
        for i, port in enumerate(self.volume_ports, 1):
            out[f"volume{i}"] = ([w, "volume", *self._common(port), f"-dir={self.root / f'volume{i}'}",
                                  f"-master={self.master}", "-max=200", "-dataCenter=dc1", "-rack=rack1"],
                                 self.root / f"volume{i}")
        out["filer"] = ([w, "filer", *self._common(self.filer_port), f"-master={self.master}",
                         f"-defaultStoreDir={self.root / 'filer'}", f"-defaultReplicaPlacement={self.replication}"],
                        self.root / "filer")
        out["s3"] = ([w, "s3", "-ip.bind=127.0.0.1", f"-port={self.s3_port}", f"-port.grpc={self.s3_port + 10000}",
                      f"-filer=127.0.0.1:{self.filer_port}", "-port.iceberg=0", "-port.lance=0"], self.root / "s3")
        return out

    def start_one(self, name: str) -> None:
        cmd, cwd = self.commands()[name]
        cwd.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key)
        with open(cwd / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                                start_new_session=True, preexec_fn=_die_with_parent)

    def start(self, timeout: float = 90.0) -> None:
        order = ["master"] + [f"volume{i}" for i in range(1, len(self.volume_ports) + 1)] + ["filer", "s3"]
        for name in order:
            self.start_one(name)
            if name == "master":
                time.sleep(1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                self.stop()
                raise RuntimeError(f"SeaweedFS {', '.join(dead)} exited; see {self.root}/<component>/*.log")
            if self.ready():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the SeaweedFS cluster did not answer on {self.endpoint} within {timeout:.0f}s")

    def ready(self) -> bool:
        from minio import Minio

        try:
            Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False).list_buckets()
            return True
        except Exception:
            return False

    def stop_one(self, name: str) -> None:
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop(self, grace: float = 5.0) -> None:
        """Signal every component at once, give them ``grace`` seconds together, then kill."""
        running = [p for p in self.procs.values() if p.poll() is None]
        for p in running:
            p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace
        for p in running:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs.clear()
