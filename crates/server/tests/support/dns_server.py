"""A real authoritative DNS server for the tests (dnslib, from PyPI): it answers TXT queries
from a JSON file ({"name.": ["value", ...]}) that the test rewrites as it goes, read again at
every query, and NXDOMAIN for any other name. It prints its UDP port, then serves until killed.

    python3 dns_server.py RECORDS.json [PORT]
"""

import json
import sys
import time

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        try:
            with open(self.path, encoding="utf-8") as f:
                records = {k.lower(): v for k, v in json.load(f).items()}
        except (OSError, ValueError):
            records = {}
        if name not in records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in records[name]:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


# Errors only, to stderr: stdout carries the port, and the test stops reading it after that.
logger = DNSLogger("-request,-reply,-truncated,-recv,-send,-data", logf=lambda line: print(line, file=sys.stderr, flush=True))
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
server = DNSServer(FileResolver(sys.argv[1]), port=port, address="127.0.0.1", logger=logger)
print(server.server.server_address[1], flush=True)
server.start_thread()
while server.isAlive():
    time.sleep(1)
