"""``python -m services.line_sandbox``: run the line_sandbox service until SIGTERM."""

from services.common import logs
from services.common.http import serve
from services.common.settings import load_settings

from .app import create_app
from .settings import LineSandboxSettings


def main() -> None:
    settings = load_settings(LineSandboxSettings)
    logs.configure(settings.service_name, settings.log_level)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
