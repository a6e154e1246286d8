"""The container health check: ``python -m services.ops.healthcheck [service]`` asks /healthz.

Docker runs it inside the container (the slim image has no curl). The service is the argument, or else
the one PID 1 runs (``python -m services.<name>``); its port comes from that service's own settings,
so ``GUNMA_<SERVICE>_HTTP_PORT`` and ``GUNMA_HTTP_PORT`` are honoured. Exit 0 when /healthz answers 200.
Only the standard library and the settings class are imported, to keep each check cheap.
"""

from __future__ import annotations

import importlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from services.common.settings import ServiceSettings

SERVICES = ("ingest", "router", "translate", "sender", "line_sandbox")


def service_of_pid1(cmdline: Path = Path("/proc/1/cmdline")) -> str | None:
    """The service PID 1 runs, from ``python -m services.<name>``."""
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return None
    for arg in argv:
        name = arg.decode(errors="replace")
        if name.startswith("services.") and name.removeprefix("services.") in SERVICES:
            return name.removeprefix("services.")
    return None


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings:
            return value
    raise LookupError(f"services.{service}.settings defines no settings class")


def port_of(service: str) -> int:
    # Only the port is read: other fields (secrets among them) may be absent in the checker's view.
    cls = settings_class(service)
    field = cls.model_fields["http_port"]
    prefix = str(cls.model_config.get("env_prefix", "GUNMA_"))
    for variable in (f"{prefix}HTTP_PORT", "GUNMA_HTTP_PORT"):
        if os.environ.get(variable):
            return int(os.environ[variable])
    return int(field.default)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    service = args[0] if args else service_of_pid1()
    if service not in SERVICES:
        print(f"healthcheck: name a service ({', '.join(SERVICES)})", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{port_of(service)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"healthcheck: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
