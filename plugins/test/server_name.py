# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Jinja2 test ``mxfed.federation.server_name``: the Matrix server-name grammar of
plugins/module_utils/_servername.py, for the roles' input checks (documented in server_name.yml).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_host_port,
    parse_server_name,
)


def server_name(value, port=True, ip=True, srv=True):
    """True when ``value`` is a server name as the spec writes it (``hostname [":" port]``).

    port: a port may be given (False: refused).
    ip: the host may be an IPv4 or [IPv6] literal (False: a DNS name only).
    srv: the name is also looked up as _matrix-fed._tcp.<name> when it has no port, which must fit
    in a DNS name (False: the name is a host other servers reach directly, 253 characters).
    Never raises: anything that is not a string is not a server name.
    """
    for name, flag in (('port', port), ('ip', ip), ('srv', srv)):
        if not isinstance(flag, bool):
            raise TypeError('server_name: %s must be true or false, got %r' % (name, flag))
    if not isinstance(value, str):
        return False
    try:
        parsed = parse_server_name(value) if srv else parse_host_port(value)
    except ServerNameError:
        return False
    if parsed.port is not None and not port:
        return False
    if parsed.is_ip and not ip:
        return False
    return True


class TestModule(object):
    """Jinja2 tests of mxfed.federation."""

    def tests(self):
        return {'server_name': server_name}
