"""The ``gunma`` ops CLI (Typer + Rich): keys, dead letters, migrations, topics."""

from .main import app, main

__all__ = ["app", "main"]
