#!/usr/bin/env python3
"""A static HTTP server that also accepts PUT, for tests only.

Usage:
    python put_server.py DIR PORT

Serves DIR on 127.0.0.1:PORT like `python3 -m http.server`, and stores the
body of a PUT under the same path (written to a temporary file, then
renamed). An existing N.root.json is never replaced (409); root.json may be.
It stands in for a TUF repository that takes uploads.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_PUT(self) -> None:  # noqa: N802 - the http.server naming
        path = self.translate_path(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        if os.path.basename(path) != "root.json" and os.path.exists(path):
            self.send_error(409, "exists; never replaced")
            return
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = functools.partial(Handler, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
