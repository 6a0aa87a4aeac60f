# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/room_health.yml as a person runs it: what is missing is named, the module's
refusal reaches the user as one sentence."""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run(*extra):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return subprocess.run([playbook, os.path.join(ROOT, 'playbooks', 'room_health.yml')] + list(extra), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def test_missing_arguments_are_named():
    proc = run()
    assert proc.returncode == 2
    assert 'Give -e homeserver_url=https://matrix.example.org' in proc.stdout


def test_token_file_and_bad_room(tmp_path):
    token = tmp_path / 'token'
    token.write_text('secret-token\n')
    proc = run('-e', 'homeserver_url=https://matrix.example.test', '-e', 'room=general',
               '-e', 'access_token_file=%s' % token)
    assert proc.returncode == 2
    assert "room 'general' is neither a room ID" in proc.stdout
    assert 'secret-token' not in proc.stdout + proc.stderr
