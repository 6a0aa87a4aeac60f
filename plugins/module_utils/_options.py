# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""The network options every module that runs the check takes (timeout, ca_path), checked once:
each function returns the sentence a sysadmin reads, or None when the value is usable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.mxfed.federation.plugins.module_utils._tls import CA_MAX_BYTES, CaPathError, read_ca_path


def timeout_problem(timeout):
    """nan fails every comparison, inf and 1e10 overflow socket timeouts: check the range itself.
    Below 0.1 s nothing on the Internet answers; above 300 s one check would take hours."""
    if math.isfinite(timeout) and 0.1 <= timeout <= 300:
        return None
    return 'timeout must be a positive number of seconds per network step, from 0.1 to 300, such as 5 (got %s).' % timeout


def ca_path_problem(ca_path):
    if not ca_path:
        return None
    try:
        read_ca_path(ca_path)
    except CaPathError as exc:
        return ('Cannot load ca_path %s: %s. ca_path must be a PEM file of trusted CA certificates, or a directory of '
                'such files, on the host that runs the check (at most %d MiB); leave it empty to use only the system '
                'CAs.' % (ca_path, exc.message, CA_MAX_BYTES // 1048576))
    return None
