# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""The module tests run a module's main() in the pytest process, where a module is not: Ansible
runs each module in a process of its own. Once any controller code is imported in this process
(a filter plugin's test imports ansible.errors), ansible-core marks module_utils as running on
the controller, and module.warn() then prints through the controller's Display instead of
returning the warning in the result. Each module test runs as a module process would."""

from __future__ import annotations

import pytest

from ansible.module_utils import _internal


@pytest.fixture(autouse=True)
def _as_a_module_process(monkeypatch):
    monkeypatch.setattr(_internal, "is_controller", False)
