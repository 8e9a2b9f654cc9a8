#!/usr/bin/env python3
"""Container health check: GET http://127.0.0.1:<port>/health, exit 0 only on 200."""

import sys
import urllib.request

port = sys.argv[1]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
