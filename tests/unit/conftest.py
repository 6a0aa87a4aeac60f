# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""pytest setup: make `ansible_collections.mxfed.federation` importable from a checkout, and
provide the loopback lab (DNS + HTTPS servers) as fixtures."""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _ensure_collection_importable():
    try:
        import ansible_collections.mxfed.federation.plugins.module_utils  # noqa: F401 pylint: disable=unused-import
        return
    except ImportError:
        pass
    # ansible-test puts the collection on the path itself; a plain checkout uses the
    # .ansible/collections symlink that scripts/setup creates (mxfed/federation -> repo root).
    link_root = os.path.join(REPO, '.ansible', 'collections')
    link = os.path.join(link_root, 'ansible_collections', 'mxfed', 'federation')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    sys.path.insert(0, link_root)
    for name in [m for m in sys.modules if m == 'ansible_collections' or m.startswith('ansible_collections.')]:
        del sys.modules[name]


_ensure_collection_importable()
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _lab import DnsServer, Lab, make_pki  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def pki():
    return make_pki()


@pytest.fixture(scope='session')
def dns_server():
    server = DnsServer('127.0.0.53')
    yield server
    server.close()


@pytest.fixture
def lab(pki, dns_server):
    dns_server.reset()
    the_lab = Lab(pki, dns_server)
    yield the_lab
    the_lab.close()
