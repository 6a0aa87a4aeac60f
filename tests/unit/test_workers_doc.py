# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""docs/workers.md's routing table is the rendering of plugins/module_utils/_workers.py, the
same data the proxy's routes are generated from, so the two cannot disagree.
Regenerate with MXFED_UPDATE_DOCS=1."""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.mxfed.federation.plugins.module_utils._workers import WORKER_TYPES

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'docs', 'workers.md')
BEGIN = '<!-- BEGIN generated from plugins/module_utils/_workers.py -->\n'
END = '<!-- END generated -->\n'


def render():
    lines = ['| order | worker type | `worker_app` | listener resources | proxy balancing | paths (regular expressions) |',
             '|---|---|---|---|---|---|']
    order = 0
    for kind, spec in WORKER_TYPES.items():
        if spec['paths']:
            order += 1
        lines.append('| %s | `%s` | `%s` | %s | %s | %s |' % (
            order if spec['paths'] else '-', kind, spec['app'],
            ', '.join('`%s`' % r for r in spec['resources']) or '-',
            {'ip_hash': 'by source IP (`ip_hash`)', 'round_robin': 'round robin', None: '-'}[spec['balance']],
            '<br>'.join('`%s`' % p.replace('|', '\\|') for p in spec['paths']) or '- (outbound federation)'))
    return '\n'.join(lines) + '\n'


def test_doc_table_is_the_rendering_of_the_worker_types():
    with open(DOC, encoding='utf-8') as fh:
        text = fh.read()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    want = render()
    if os.environ.get('MXFED_UPDATE_DOCS') and text[start:end] != want:
        with open(DOC, 'w', encoding='utf-8') as fh:
            fh.write(text[:start] + want + text[end:])
        return
    assert text[start:end] == want, 'docs/workers.md is out of date: run with MXFED_UPDATE_DOCS=1'
