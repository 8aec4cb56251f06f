#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# python-server.py — a Python `ssl` relying party for selfcert devices (docs/RELYING-PARTY.md):
# mutual TLS against the manufacturer root, then the two checks path validation cannot make:
# the device's network (subject O) and its device ID equal to its device CA's (the leaf's
# issuer serialNumber). One line answered per connection: "hello DEVICE-ID".
#   usage: python-server.py --cert C --key K --ca ROOT --network ID [--port N] [--count N]
import argparse
import socket
import ssl
import sys


def attr(name, key):
    """One attribute of a getpeercert() name (a tuple of RDNs), or None."""
    vals = [v for rdn in name for (k, v) in rdn if k == key]
    return vals[0] if len(vals) == 1 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True, help="manufacturer root")
    ap.add_argument("--network", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--count", type=int, default=0, help="stop after N connections (0: never)")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED  # path validation by OpenSSL, name constraints included

    srv = socket.create_server(("127.0.0.1", a.port))
    print("listening on %d" % srv.getsockname()[1], flush=True)
    n = 0
    while a.count == 0 or n < a.count:
        conn, _ = srv.accept()
        n += 1
        conn.settimeout(20)
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("refused: %s" % e, file=sys.stderr, flush=True)
            conn.close()
            continue
        with tls:
            cert = tls.getpeercert()
            net = attr(cert["subject"], "organizationName")
            dev = attr(cert["subject"], "serialNumber")
            ca_dev = attr(cert["issuer"], "serialNumber")
            if net != a.network:
                print("refused: network %r" % net, file=sys.stderr, flush=True)
                continue
            if dev is None or dev != ca_dev:
                print("refused: device %r under device CA %r" % (dev, ca_dev),
                      file=sys.stderr, flush=True)
                continue
            print("admitted: %s" % dev, file=sys.stderr, flush=True)
            try:
                line = tls.recv(1024).decode("utf-8", "replace")
                tls.sendall(("hello %s %s" % (dev, line)).encode())
            except (ssl.SSLError, OSError):
                pass


if __name__ == "__main__":
    main()
