"""``python -m services.ops``: the ops CLI (the same as the ``gunma`` command)."""

from services.ops.cli import main

if __name__ == "__main__":
    main()
