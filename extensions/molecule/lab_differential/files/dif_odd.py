#!/usr/bin/env python3
"""Odd listeners of the differential lab (test harness), stdlib only.

  hang: accept TCP and never answer (a well-known or federation port that times out);
  tls:  terminate TLS with a given certificate whatever SNI the client sends (wrong name, the
        SRV target's name, an IP address), then pass the bytes to a loopback backend (the
        setup's Synapse identity);
  stall: complete the TLS handshake (a valid certificate), then never answer the HTTP request.
Config: one JSON file, a list of {kind, address, port, cert?, key?, backend?}.
"""
import asyncio
import json
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def tls_handler(backend):
    async def handle(reader, writer):
        try:
            b_reader, b_writer = await asyncio.open_connection('127.0.0.1', backend)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, b_writer), pipe(b_reader, writer))
    return handle


async def hang(reader, writer):
    # Read and drop whatever arrives (a TLS ClientHello); never send a byte back.
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass
    writer.close()


async def main(path):
    with open(path) as f:
        listeners = json.load(f)
    servers = []
    for item in listeners:
        if item['kind'] == 'hang':
            servers.append(await asyncio.start_server(hang, item['address'], item['port']))
        elif item['kind'] == 'stall':
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(item['cert'], item['key'])
            ctx.set_alpn_protocols(['http/1.1'])
            servers.append(await asyncio.start_server(hang, item['address'], item['port'], ssl=ctx))
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(item['cert'], item['key'])
            ctx.set_alpn_protocols(['http/1.1'])
            servers.append(await asyncio.start_server(tls_handler(item['backend']), item['address'],
                                                      item['port'], ssl=ctx))
        print('listening: %(kind)s %(address)s:%(port)s' % item, flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1]))
