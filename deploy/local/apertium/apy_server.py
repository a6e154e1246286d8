#!/usr/bin/python3
"""Apertium APY bound to one address (loopback by default) instead of every interface.

``apertium-apy`` calls ``HTTPServer.bind(port)``, which listens on all interfaces; tests and the local
demo must only use 127.0.0.1. This launcher builds the same tornado application with APY's own
functions and binds it to ``--host``. It runs under the system Python (/usr/bin/python3), where the
Debian package ``apertium-apy`` installs its module, not under the project's virtualenv.

    /usr/bin/python3 apy_server.py [--host 127.0.0.1] [APY options, e.g. --port 2737] PAIRS_PATH
"""

import logging
import signal
import sys

import tornado.httpserver
import tornado.ioloop
from apertium_apy import apy


def split_host(argv):
    """Take ``--host ADDRESS`` (or ``--host=ADDRESS``) out of the arguments APY parses."""
    host = "127.0.0.1"
    rest = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--host" and i + 1 < len(argv):
            host = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--host="):
            host = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return host, rest


def main():
    host, argv = split_host(sys.argv[1:])
    apy.check_utf8()
    args = apy.parse_args(argv)
    if args.num_processes != 1:
        sys.exit("apy_server.py: only --num-processes 1 is supported (one process per address)")
    apy.setup_logging(args)
    application = apy.setup_application(args)
    server = tornado.httpserver.HTTPServer(application)
    signal.signal(signal.SIGTERM, apy.sig_handler)
    signal.signal(signal.SIGINT, apy.sig_handler)
    server.bind(args.port, address=host)
    server.start(1)
    logging.info("Apertium APY serving on http://%s:%s", host, args.port)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
