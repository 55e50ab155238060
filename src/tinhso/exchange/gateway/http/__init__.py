"""The gateway's own HTTP/1.1 server: connection handling, request parsing, request bodies."""
