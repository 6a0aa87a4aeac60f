# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/_backup.py: archive names, key IDs, the key comparison behind the
restore's refusal, manifests and the restore marker."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils import _backup

UTC = datetime.timezone.utc
T = datetime.datetime(2026, 12, 1, 20, 30, 5, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.mark.parametrize("server_name, implementation, moment, encrypted, expected", [
    ("example.org", "synapse", T, False, "example.org_synapse_20261201T203005Z.tar.gz"),
    ("example.org", "dendrite", T, True, "example.org_dendrite_20261201T203005Z.tar.gz.enc"),
    ("example.org:8448", "conduit", T, False, "example.org-8448_conduit_20261201T203005Z.tar.gz"),
    # another zone: the name carries UTC
    ("a.test", "synapse", T.astimezone(datetime.timezone(datetime.timedelta(hours=2))), False,
     "a.test_synapse_20261201T203005Z.tar.gz"),
])
def test_archive_name(server_name, implementation, moment, encrypted, expected):
    name = _backup.archive_name(server_name, implementation, moment, encrypted)
    assert name == expected
    parsed = _backup.parse_archive_name(name)
    assert parsed == {"server_name": server_name, "implementation": implementation,
                      "created": T, "encrypted": encrypted}


@pytest.mark.parametrize("server_name, implementation, moment, message", [
    ("example.org", "matrix", T, "implementation must be one of synapse, dendrite, conduit"),
    ("https://example.org", "synapse", T, "server name must be a domain name"),
    ("", "synapse", T, "server name must be a domain name"),
    ("a/b", "synapse", T, "server name must be a domain name"),
    ("example.org", "synapse", T.replace(tzinfo=None), "time zone"),
])
def test_archive_name_refuses(server_name, implementation, moment, message):
    with pytest.raises(_backup.BackupError, match=message):
        _backup.archive_name(server_name, implementation, moment)


@pytest.mark.parametrize("name", ["backup.tar.gz", "example.org_synapse_2026.tar.gz",
                                  "example.org_matrix_20261201T203005Z.tar.gz",
                                  "example.org_synapse_20261201T203005Z.zip", ""])
def test_parse_archive_name_not_ours(name):
    assert _backup.parse_archive_name(name) is None


def test_archive_names_sort_by_time():
    later = T + datetime.timedelta(seconds=1)
    names = [_backup.archive_name("a.test", "synapse", m) for m in (later, T)]
    assert sorted(names) == names[::-1]


@pytest.mark.parametrize("header, key_format, expected", [
    ("ed25519 a_AbCd", "synapse", "ed25519:a_AbCd"),
    ("ed25519 a_AbCd\n", "synapse", "ed25519:a_AbCd"),
    ("ed25519 auto", "synapse", "ed25519:auto"),
    ("Key-ID: ed25519:Ab12", "dendrite", "ed25519:Ab12"),
    ("-----BEGIN MATRIX PRIVATE KEY-----\nkey-id: ed25519:x_1\n", "dendrite", "ed25519:x_1"),
])
def test_key_id_from_header(header, key_format, expected):
    assert _backup.key_id_from_header(header, key_format) == expected


@pytest.mark.parametrize("header, key_format, message", [
    ("", "synapse", "starts with"),
    ("rsa a_AbCd", "synapse", "starts with"),
    ("ed25519 a/b", "synapse", "key ID looks like"),
    ("-----BEGIN MATRIX PRIVATE KEY-----", "dendrite", "Key-ID"),
    ("ed25519 a_AbCd", "conduit", "key format must be synapse or dendrite"),
])
def test_key_id_from_header_refuses(header, key_format, message):
    with pytest.raises(_backup.BackupError, match=message):
        _backup.key_id_from_header(header, key_format)


@pytest.mark.parametrize("key_id, sha256", [("a_AbCd", SHA_A), ("ed25519:a", "A" * 64), ("ed25519:a", "ab")])
def test_key_identity_refuses(key_id, sha256):
    with pytest.raises(_backup.BackupError):
        _backup.key_identity(key_id, sha256)


A = _backup.key_identity("ed25519:a_1", SHA_A)
A_SERVED = _backup.key_identity("ed25519:a_1", None, "pubA")


@pytest.mark.parametrize("archived, existing, same", [
    (A, dict(A), True),
    (A, _backup.key_identity("ed25519:a_1", SHA_B), False),      # same ID, another key
    (A, _backup.key_identity("ed25519:a_2", SHA_A), False),      # another ID
    (A_SERVED, _backup.key_identity("ed25519:a_1", None, "pubA"), True),
    (A_SERVED, _backup.key_identity("ed25519:a_1", None, "pubB"), False),
    # nothing to compare but the ID: not proven the same
    (A, A_SERVED, False),
])
def test_same_key(archived, existing, same):
    assert _backup.same_key(archived, existing) is same


def test_key_conflict_names_both_keys():
    other = _backup.key_identity("ed25519:a_9", SHA_B)
    message = _backup.key_conflict(A, other, host="hs-alpha")
    assert message.startswith("Refusing to restore: hs-alpha already holds a different signing key.")
    assert "On the host: ed25519:a_9 (sha256 %s)" % SHA_B in message
    assert "In the backup: ed25519:a_1 (sha256 %s)" % SHA_A in message
    assert "-e restore_force_key=true" in message


@pytest.mark.parametrize("existing, force", [(None, False), (A, False), (_backup.key_identity("ed25519:a_9", SHA_B), True)])
def test_key_conflict_allows(existing, force):
    assert _backup.key_conflict(A, existing, force=force) == ""


def _manifest(**changes):
    manifest = _backup.build_manifest("a.test", "synapse", T, A, {"kind": "sqlite"}, ["data", "config"], "hs1", "0.1.0")
    manifest.update(changes)
    return manifest


def test_build_manifest():
    assert _manifest() == {
        "format": 1, "server_name": "a.test", "implementation": "synapse", "created": "20261201T203005Z",
        "hostname": "hs1", "collection_version": "0.1.0", "key": A, "database": {"kind": "sqlite"},
        "files": ["config", "data"]}


@pytest.mark.parametrize("manifest, fragments", [
    (_manifest(), []),
    (_manifest(server_name="b.test"), ["server name 'b.test', the host is configured for 'a.test'"]),
    (_manifest(implementation="dendrite"), ["backup is of dendrite, the host is configured for synapse"]),
    (_manifest(server_name="b.test", key=None), ["server name 'b.test'", "no signing key ID"]),
    (_manifest(format=2), ["manifest format 2"]),
    (_manifest(key={}), ["no signing key ID"]),
    (None, ["no readable manifest.json"]),
    ("text", ["no readable manifest.json"]),
])
def test_manifest_problems(manifest, fragments):
    problems = _backup.manifest_problems(manifest, "a.test", "synapse")
    assert len(problems) == len(fragments)
    for problem, fragment in zip(problems, fragments):
        assert fragment in problem


def test_restore_marker_names_the_backup():
    assert _backup.restore_marker(_manifest()) == "a.test synapse 20261201T203005Z ed25519:a_1\n"
    assert _backup.restore_marker(_manifest()) != _backup.restore_marker(_manifest(created="20261202T000000Z"))
