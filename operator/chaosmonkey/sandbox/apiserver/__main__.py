"""``python -m chaosmonkey.sandbox.apiserver --port PORT --kubeconfig PATH [--crds DIR]``.

Serves until SIGINT/SIGTERM (then exits 0) and prints one ``ready URL`` line once it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .server import APIServer


async def _serve(args: argparse.Namespace) -> None:
    server = APIServer(crds_dir=args.crds, auto_create_namespaces=args.auto_create_namespaces)
    url = await server.start(host=args.host, port=args.port)
    if args.kubeconfig:
        server.write_kubeconfig(args.kubeconfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"ready {url}", flush=True)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaosmonkey.sandbox.apiserver",
                                     description="In-memory Kubernetes API server stand-in (not a cluster).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the server here")
    parser.add_argument("--crds", type=Path, help="a directory of CRD manifests (*.yaml)")
    parser.add_argument("--auto-create-namespaces", action="store_true",
                        help="create missing namespaces on write instead of answering 404")
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
