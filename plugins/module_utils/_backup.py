# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports.
"""Backups of a homeserver's identity and data: archive names, the manifest inside each
archive, the signing key's identity and the decision whether a restore may replace the key
a host holds.

The signing key is the server's identity: other servers cache its public key, so a server that
comes back with another key is not trusted with its own history. A restore therefore never
replaces a different key unless told to, and says which two keys it found.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

FORMAT = 1
IMPLEMENTATIONS = ('synapse', 'dendrite', 'conduit')
SUFFIX = '.tar.gz'
ENCRYPTED_SUFFIX = '.tar.gz.enc'

# <server name>_<implementation>_<UTC time>.tar.gz[.enc]; sorting the names sorts by time.
_NAME = re.compile(
    r'^(?P<server_name>[A-Za-z0-9.-]+(?:-[0-9]+)?)_(?P<implementation>synapse|dendrite|conduit)_'
    r'(?P<stamp>[0-9]{8}T[0-9]{6}Z)(?P<suffix>\.tar\.gz(?:\.enc)?)$')
_STAMP = '%Y%m%dT%H%M%SZ'
_KEY_ID = re.compile(r'^ed25519:[A-Za-z0-9_]+$')
_SHA256 = re.compile(r'^[0-9a-f]{64}$')


class BackupError(ValueError):
    """Input that cannot be a backup: the message names what is wrong."""


def _utc(moment):
    if moment.tzinfo is None:
        raise BackupError('the time of a backup must carry its time zone')
    return moment.astimezone(datetime.timezone.utc)


def archive_name(server_name, implementation, moment, encrypted=False):
    """The archive's file name: server name, implementation and UTC time, e.g.
    ``example.org_synapse_20261201T203000Z.tar.gz`` (``.enc`` appended when encrypted).
    A server name with a port (``example.org:8448``) keeps the port after a dash."""
    if implementation not in IMPLEMENTATIONS:
        raise BackupError('implementation must be one of %s (got %r)' % (', '.join(IMPLEMENTATIONS), implementation))
    name = str(server_name or '')
    if not re.match(r'^[A-Za-z0-9.-]+(?::[0-9]+)?$', name):
        raise BackupError('server name must be a domain name, optionally with a port (got %r)' % (server_name,))
    stamp = _utc(moment).strftime(_STAMP)
    return '%s_%s_%s%s' % (name.replace(':', '-'), implementation, stamp, ENCRYPTED_SUFFIX if encrypted else SUFFIX)


def parse_archive_name(name):
    """Inverse of archive_name for a base name: a dict with server_name (a port written back
    with a colon), implementation, created (aware datetime) and encrypted; None when the name
    is not one of ours."""
    match = _NAME.match(name or '')
    if not match:
        return None
    server_name = re.sub(r'-([0-9]+)$', r':\1', match.group('server_name'))
    created = datetime.datetime.strptime(match.group('stamp'), _STAMP).replace(tzinfo=datetime.timezone.utc)
    return {'server_name': server_name, 'implementation': match.group('implementation'),
            'created': created, 'encrypted': match.group('suffix').endswith('.enc')}


def key_id_from_header(header, key_format):
    """The key ID from the non-secret start of a signing key file.

    ``synapse``: the file's first line is ``ed25519 <version> <base64 seed>``; the header given
    is its first two fields (``ed25519 a_AbCd``). ``dendrite``: a PEM block ``MATRIX PRIVATE
    KEY`` with a ``Key-ID: ed25519:<version>`` header. Returns ``ed25519:<version>``."""
    text = (header or '').strip()
    if key_format == 'synapse':
        fields = text.split()
        if len(fields) < 2 or fields[0] != 'ed25519':
            raise BackupError('a Synapse signing key starts with "ed25519 <version>" (got %r)' % text[:40])
        key_id = 'ed25519:' + fields[1]
    elif key_format == 'dendrite':
        found = [line.split(':', 1)[1].strip() for line in text.splitlines()
                 if line.strip().lower().startswith('key-id:')]
        if not found:
            raise BackupError('a Dendrite signing key has a "Key-ID: ed25519:<version>" header (got none)')
        key_id = found[0]
    else:
        raise BackupError('key format must be synapse or dendrite (got %r)' % (key_format,))
    if not _KEY_ID.match(key_id):
        raise BackupError('a key ID looks like ed25519:a_AbCd (got %r)' % key_id)
    return key_id


def key_identity(key_id, sha256, public_key=None):
    """What identifies a signing key without showing it: its ID, the SHA-256 of the key file
    (hex) and, when known, the public key peers cache (unpadded base64)."""
    if not _KEY_ID.match(key_id or ''):
        raise BackupError('a key ID looks like ed25519:a_AbCd (got %r)' % (key_id,))
    if sha256 is not None and not _SHA256.match(sha256 or ''):
        raise BackupError('a key fingerprint is 64 lowercase hex digits (got %r)' % (sha256,))
    identity = {'key_id': key_id, 'sha256': sha256}
    if public_key:
        identity['public_key'] = public_key
    return identity


def describe_identity(identity):
    """One line for a person: ``ed25519:a_AbCd (sha256 12ab...)``."""
    if not identity:
        return 'no key'
    parts = []
    if identity.get('sha256'):
        parts.append('sha256 ' + identity['sha256'])
    if identity.get('public_key'):
        parts.append('public key ' + identity['public_key'])
    return '%s (%s)' % (identity.get('key_id'), ', '.join(parts) if parts else 'no fingerprint')


def same_key(archived, existing):
    """True when two identities name the same key: same ID, and the same fingerprint wherever
    both sides know one (file SHA-256, public key)."""
    if archived.get('key_id') != existing.get('key_id'):
        return False
    compared = False
    for field in ('sha256', 'public_key'):
        if archived.get(field) and existing.get(field):
            compared = True
            if archived[field] != existing[field]:
                return False
    return compared


def key_conflict(archived, existing, force=False, host='the host'):
    """The refusal message when a restore would replace a different key, else ''.

    archived: the key identity recorded in the backup's manifest. existing: the identity of the
    key on the host, or None when the host has none (a new host: nothing to protect). force:
    the user said the host's key may go."""
    if not existing or same_key(archived, existing) or force:
        return ''
    return ('Refusing to restore: %s already holds a different signing key. On the host: %s. In the backup: %s. '
            'Other servers know this server by the key they cached; replacing it is only right when the key on '
            'the host is not in use (a new host that was deployed before the restore). Run again with '
            '-e restore_force_key=true to replace it, or restore onto a host without a key.'
            % (host, describe_identity(existing), describe_identity(archived)))


def build_manifest(server_name, implementation, created, key, database, files, hostname='', collection_version=''):
    """The manifest stored as manifest.json in each archive.

    key: key_identity(); database: {'kind': 'sqlite'|'postgresql'|'files', ...}; files: the
    archive's top-level parts (config, data, db)."""
    if implementation not in IMPLEMENTATIONS:
        raise BackupError('implementation must be one of %s (got %r)' % (', '.join(IMPLEMENTATIONS), implementation))
    return {
        'format': FORMAT,
        'server_name': server_name,
        'implementation': implementation,
        'created': _utc(created).strftime(_STAMP),
        'hostname': hostname,
        'collection_version': collection_version,
        'key': key,
        'database': database,
        'files': sorted(files),
    }


def manifest_problems(manifest, server_name, implementation):
    """Why this manifest cannot be restored onto a server with this name and implementation:
    a list of sentences, empty when it can."""
    if not isinstance(manifest, dict):
        return ['the archive has no readable manifest.json: not a backup made by mxfed.federation']
    problems = []
    if manifest.get('format') != FORMAT:
        problems.append('the archive has manifest format %r; this collection reads format %d'
                        % (manifest.get('format'), FORMAT))
    if manifest.get('server_name') != server_name:
        problems.append('the backup is of server name %r, the host is configured for %r: a server name is '
                        'fixed forever, restore it onto a host configured with the same one'
                        % (manifest.get('server_name'), server_name))
    if manifest.get('implementation') != implementation:
        problems.append('the backup is of %s, the host is configured for %s: there is no conversion between '
                        'implementations' % (manifest.get('implementation'), implementation))
    key = manifest.get('key')
    if not isinstance(key, dict) or not _KEY_ID.match(str(key.get('key_id', ''))):
        problems.append('the manifest records no signing key ID')
    return problems


def restore_marker(manifest):
    """The text of the marker a restore leaves on the host: which backup it restored. A second
    restore of the same backup finds it and changes nothing."""
    return '%s %s %s %s\n' % (manifest.get('server_name'), manifest.get('implementation'),
                              manifest.get('created'), (manifest.get('key') or {}).get('key_id'))
