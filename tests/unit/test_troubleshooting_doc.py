# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""docs/troubleshooting.md explains every code the delegation check can emit, under its level."""

from __future__ import absolute_import, division, print_function

import os
import re

import pytest

from ansible_collections.mxfed.federation.plugins.module_utils._report import CODES

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   'docs', 'troubleshooting.md')


def _sections():
    with open(DOC, encoding='utf-8') as fh:
        text = fh.read()
    parts = re.split(r'^### `([a-z0-9_]+)`\s*$', text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


SECTIONS = _sections()


@pytest.mark.parametrize('code', sorted(CODES))
def test_code_documented(code):
    assert code in SECTIONS, 'docs/troubleshooting.md has no "### `%s`" section' % code
    body = SECTIONS[code]
    level = CODES[code][0]
    assert re.search(r'Level:?\s*%s\b' % level, body), '%s: the section must say "Level: %s"' % (code, level)
    for part in ('Fix:',):
        assert part in body, '%s: the section needs a "%s" line' % (code, part)


def test_no_unknown_codes():
    unknown = sorted(set(SECTIONS) - set(CODES))
    assert not unknown, 'docs/troubleshooting.md documents codes the check does not emit: %s' % unknown
