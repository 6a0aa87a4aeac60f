#!/usr/bin/env python3
"""Leaf certificates of the differential lab, signed by the lab CA (test harness).

Run with a Python that has `cryptography` (the Synapse venv). Input: a JSON file
{"ca_cert", "ca_key", "leaf_key", "certs": [{"file", "names"}]}. A name that parses as an IP
address becomes an IP SAN. Writes only what is missing or differs; prints {"changed": [files]}.
"""
import datetime
import ipaddress
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def san(names):
    out = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def main(path):
    spec = json.load(open(path))
    changed = []
    ca_cert = x509.load_pem_x509_certificate(open(spec['ca_cert'], 'rb').read())
    ca_key = serialization.load_pem_private_key(open(spec['ca_key'], 'rb').read(), None)
    if not os.path.exists(spec['leaf_key']):
        key = ec.generate_private_key(ec.SECP256R1())
        with open(spec['leaf_key'], 'wb') as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        changed.append(spec['leaf_key'])
    key = serialization.load_pem_private_key(open(spec['leaf_key'], 'rb').read(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    for item in spec['certs']:
        want = san(item['names'])
        if os.path.exists(item['file']) and spec['leaf_key'] not in changed:
            old = x509.load_pem_x509_certificate(open(item['file'], 'rb').read())
            try:
                have = list(old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
            except x509.ExtensionNotFound:
                have = []
            if (old.issuer == ca_cert.subject and set(map(repr, have)) == set(map(repr, want))
                    and old.not_valid_after_utc > now + datetime.timedelta(days=2)):
                continue
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, item['names'][0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=20))
                .add_extension(x509.SubjectAlternativeName(want), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        with open(item['file'], 'wb') as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        changed.append(item['file'])
    print(json.dumps({'changed': changed}))


if __name__ == '__main__':
    main(sys.argv[1])
