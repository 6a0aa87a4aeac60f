# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""Make `ansible_collections.mxfed.federation` importable from a checkout (as tests/unit/conftest.py does)."""

from __future__ import absolute_import, division, print_function

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK_ROOT = os.path.join(REPO, '.ansible', 'collections')

try:
    import ansible_collections.mxfed.federation.plugins.module_utils  # noqa: F401 pylint: disable=unused-import
except ImportError:
    link = os.path.join(LINK_ROOT, 'ansible_collections', 'mxfed', 'federation')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    sys.path.insert(0, LINK_ROOT)
    for name in [m for m in sys.modules if m == 'ansible_collections' or m.startswith('ansible_collections.')]:
        del sys.modules[name]
