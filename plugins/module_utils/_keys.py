# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""Server key verification: spec server-server-api.md "Retrieving server keys" /
"Publishing Keys" (GET /_matrix/key/v2/server) and appendices "Canonical JSON" and
"Signing JSON" (remove `signatures` and `unsigned`, encode canonically, verify ed25519)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import time
import traceback

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - cryptography ships with ansible-core
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

KEY_WARN_SECONDS = 3600
MAX_SAFE_INTEGER = 2 ** 53 - 1  # canonical JSON's integer range (spec appendix "Canonical JSON")


def _shown(value):
    """A value from the response for a message: at most 60 characters (str() of 10**309 alone is 310)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 40:
        return 'an integer of %d bits' % value.bit_length()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def canonical_json(value):
    """Matrix canonical JSON: sorted keys, no insignificant whitespace, UTF-8, no escaping of non-ASCII."""
    return json.dumps(value, ensure_ascii=False, separators=(',', ':'), sort_keys=True, allow_nan=False).encode('utf-8')


def unpadded_b64decode(text):
    """Decode unpadded (and tolerate padded) standard base64 as used by Matrix."""
    text = text.strip()
    return base64.b64decode(text + '=' * (-len(text) % 4), validate=True)


def unpadded_b64encode(data):
    return base64.b64encode(data).decode('ascii').rstrip('=')


def verify_ed25519(public_key_b64, signature_b64, message):
    """True if valid, False if the signature does not verify; raises ValueError on malformed input."""
    try:
        key_bytes = unpadded_b64decode(public_key_b64)
        sig_bytes = unpadded_b64decode(signature_b64)
    except (binascii.Error, ValueError):
        raise ValueError('not valid base64')
    if len(key_bytes) != 32:
        raise ValueError('an ed25519 key is 32 bytes, got %d' % len(key_bytes))
    if len(sig_bytes) != 64:
        raise ValueError('an ed25519 signature is 64 bytes, got %d' % len(sig_bytes))
    try:
        Ed25519PublicKey.from_public_bytes(key_bytes).verify(sig_bytes, message)
    except InvalidSignature:
        return False
    return True


class KeyProblem(object):
    def __init__(self, code, message, **fmt):
        self.code = code
        self.message = message
        self.fmt = fmt


def check_key_response(doc, expected_server_name, now_ms=None):
    """Check a parsed /_matrix/key/v2/server body.

    Returns (summary dict, list of KeyProblem). Never raises on bad content.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    problems = []
    summary = {
        'server_name': None,
        'verify_keys': {},
        'old_verify_keys': {},
        'valid_until_ts': None,
        'valid_for_seconds': None,
        'signatures': {},
        'signatures_valid': False,
    }
    if not isinstance(doc, dict):
        problems.append(KeyProblem('keys_invalid_json', 'The key response is not a JSON object.'))
        return summary, problems

    server_name = doc.get('server_name')
    summary['server_name'] = server_name
    if server_name != expected_server_name:
        problems.append(KeyProblem('keys_server_name_mismatch',
                                   'The key response names server %r, but we are checking %r.' % (server_name, expected_server_name),
                                   expected=expected_server_name))

    verify_keys = doc.get('verify_keys')
    keys = {}
    if isinstance(verify_keys, dict):
        for key_id, entry in verify_keys.items():
            if isinstance(entry, dict) and isinstance(entry.get('key'), str):
                keys[key_id] = entry['key']
    summary['verify_keys'] = keys
    old = doc.get('old_verify_keys')
    if isinstance(old, dict):
        summary['old_verify_keys'] = dict(
            (k, {'key': v.get('key'), 'expired_ts': v.get('expired_ts')}) for k, v in old.items() if isinstance(v, dict))
    ed_keys = dict((k, v) for k, v in keys.items() if k.startswith('ed25519:'))
    if not ed_keys:
        problems.append(KeyProblem('keys_no_ed25519', 'The key response has no ed25519 key in verify_keys.'))

    valid_until = doc.get('valid_until_ts')
    if isinstance(valid_until, bool) or not isinstance(valid_until, int):
        problems.append(KeyProblem('keys_expired', 'valid_until_ts is missing or not an integer (%s).' % _shown(valid_until)))
    elif not -MAX_SAFE_INTEGER <= valid_until <= MAX_SAFE_INTEGER:
        # 10**309 made the float division below an OverflowError; Synapse's canonical JSON
        # refuses such integers, so no server can accept these keys.
        problems.append(KeyProblem('keys_expired', 'valid_until_ts %s is outside the integer range of canonical JSON '
                                   '([-(2**53)+1, 2**53-1]).' % _shown(valid_until)))
    else:
        summary['valid_until_ts'] = valid_until
        remaining = (valid_until - now_ms) / 1000.0
        summary['valid_for_seconds'] = int(remaining)
        if remaining <= 0:
            problems.append(KeyProblem('keys_expired', 'valid_until_ts %d is %d seconds in the past.' % (valid_until, int(-remaining))))
        elif remaining < KEY_WARN_SECONDS:
            problems.append(KeyProblem('keys_expiring', 'valid_until_ts is only %d seconds in the future.' % int(remaining)))

    # Signing JSON: the signed object is the response without `signatures` and `unsigned`.
    signatures = doc.get('signatures')
    ours = signatures.get(expected_server_name) if isinstance(signatures, dict) else None
    try:
        message = canonical_json(dict((k, v) for k, v in doc.items() if k not in ('signatures', 'unsigned')))
    except (TypeError, ValueError, RecursionError) as exc:
        problems.append(KeyProblem('keys_invalid_json', 'The key response cannot be encoded as canonical JSON: %s.'
                                   % str(exc)[:200]))
        return summary, problems
    results = {}
    if not isinstance(ours, dict) or not ours:
        problems.append(KeyProblem('keys_unsigned', 'The key response carries no signature by %r.' % expected_server_name,
                                   expected=expected_server_name))
    else:
        for key_id, sig in sorted(ours.items()):
            if not key_id.startswith('ed25519:'):
                continue
            if key_id not in ed_keys:
                results[key_id] = 'unknown key'
                continue
            try:
                ok = verify_ed25519(ed_keys[key_id], sig, message)
            except (ValueError, TypeError, AttributeError) as exc:
                results[key_id] = 'malformed: %s' % exc
                continue
            results[key_id] = 'valid' if ok else 'invalid'
        summary['signatures'] = results
        unsigned_keys = [k for k in ed_keys if results.get(k) != 'valid']
        if not results or any(v != 'valid' for v in results.values()) or unsigned_keys:
            detail = ', '.join('%s: %s' % (k, results.get(k, 'no signature')) for k in sorted(set(results) | set(ed_keys)))
            problems.append(KeyProblem('keys_bad_signature', 'Signature check failed (%s).' % detail))
        else:
            summary['signatures_valid'] = True
    return summary, problems


def keys_fingerprint(summary):
    """What must be identical across addresses: the current verify keys."""
    return canonical_json(summary.get('verify_keys') or {}).decode('utf-8')
