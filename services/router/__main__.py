"""``python -m services.router``: run the router service until SIGTERM."""

from services.common import logs
from services.common.http import serve
from services.common.settings import load_settings

from .app import create_app
from .settings import RouterSettings


def main() -> None:
    settings = load_settings(RouterSettings)
    logs.configure(settings.service_name, settings.log_level)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
