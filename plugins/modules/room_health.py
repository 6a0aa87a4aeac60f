#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: room_health
short_description: Say which servers of a Matrix room are unreachable, why, and whether your server backs off from them
version_added: 0.1.0
description:
  - Lists the servers of a room (the server names of its joined members) through your homeserver's API, checks
    every one of them with the same discovery check as M(mxfed.federation.delegation_check), concurrently and each
    as it would be checked alone, and joins that with what your homeserver knows.
  - B(Backoff) (Synapse only) comes from the admin federation API
    (C(/_synapse/admin/v1/federation/destinations/<server>)) - when the failures began, the last attempt, the
    retry interval, the next retry. Dendrite and Conduit expose no such API; their rows say V(n/a).
  - B(Outbound) asks your homeserver itself to reach each server (a profile query for one of its members,
    C(GET /_matrix/client/v3/profile/<user>), which your server answers by a federation request), because its
    network view (firewall, DNS) may differ from the controller's.
  - With O(reset_connection), servers that pass the check now but that Synapse still backs off from are reset
    (C(POST .../reset_connection)), so Synapse sends them what it queued without waiting for its next retry.
  - The checks of other servers are polite - no proxy probes, at most 100 requests per server (about 15 for a
    healthy one), each read bounded, each step with a deadline, a C(User-Agent) that names the tool.
author:
  - mxfed.federation contributors (@mxfed)
requirements:
  - dnspython >= 2.0
  - h11 >= 0.16
attributes:
  check_mode:
    support: full
    description: In check mode nothing is reset; RV(reset) lists what would be.
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  homeserver_url:
    description:
      - The client-server API base URL of your homeserver, as in C(/.well-known/matrix/client), such as
        V(https://matrix.example.org).
      - Synapse's admin API is usually not exposed through the reverse proxy (the C(homeserver) role's Caddy does not).
        For backoff data and O(reset_connection), run the module on the homeserver host with its loopback listener,
        V(http://127.0.0.1:8008); plain C(http) is accepted for loopback addresses only. The checks of the room's
        servers then run from that host.
    type: str
    required: true
  access_token:
    description:
      - An access token of a user on that homeserver. For backoff data and O(reset_connection) the user must be a
        Synapse server admin; without admin rights the room's members come from the client API, which needs the
        user to be in the room.
    type: str
    required: true
  room:
    description:
      - The room, by ID (V(!abc:example.org)) or alias (V(#room:example.org)).
    type: str
    required: true
  admin_api:
    description:
      - V(auto) uses Synapse's admin API when the token may use it, else the client API. V(synapse) requires it (fails
        otherwise). V(none) never calls it (Dendrite, Conduit, or a token without admin rights).
    type: str
    choices: [auto, synapse, none]
    default: auto
  reset_connection:
    description:
      - Reset Synapse's backoff for servers that pass the check now but are still backed off (needs the admin API).
    type: bool
    default: false
  outbound:
    description:
      - Ask your homeserver to reach each server (one profile query per server, 16 at a time), after any reset.
      - This is a real federation request - when it succeeds, Synapse ends its backoff for that server by itself, as
        after any successful request, and sends what it queued. The row then says so. In check mode servers in
        backoff are not asked.
    type: bool
    default: true
  nameservers:
    description: IP addresses of DNS servers to ask instead of the system resolver, for the checks and the API.
    type: list
    elements: str
  ca_path:
    description: A PEM file or directory of extra trusted CA certificates (as in M(mxfed.federation.delegation_check)).
    type: path
  timeout:
    description:
      - Seconds for each DNS lookup, connection and request (0.1 to 300), as in M(mxfed.federation.delegation_check).
        An outbound query your server has not answered by then is reported as a timeout.
    type: float
    default: 10
  implementations:
    description: Whose verdict decides whether a server is reachable (as in M(mxfed.federation.delegation_check)).
    type: list
    elements: str
    choices: [synapse, dendrite, conduit]
    default: [synapse, dendrite, conduit]
notes:
  - Run it on the controller (C(delegate_to=localhost)) like the delegation check.
  - The task fails only when the room or the API cannot be used; unreachable servers are the report, listed in
    RV(unreachable_servers).
seealso:
  - module: mxfed.federation.delegation_check
  - name: Synapse admin API, federation
    description: The destination records this module reads.
    link: https://element-hq.github.io/synapse/latest/usage/administration/admin_api/federation.html
'''

EXAMPLES = r'''
- name: Which servers of the room are unreachable, and why
  mxfed.federation.room_health:
    homeserver_url: https://matrix.example.org
    access_token: "{{ synapse_admin_token }}"
    room: "#general:example.org"
  delegate_to: localhost
  register: health

- name: With Synapse's backoff data, through the admin API on the homeserver host's loopback listener
  mxfed.federation.room_health:
    homeserver_url: http://127.0.0.1:8008
    access_token: "{{ synapse_admin_token }}"
    room: "#general:example.org"
    reset_connection: true

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ health.table.split('\n') }}"
'''

RETURN = r'''
room_id:
  description: The room's ID (the alias resolved).
  returned: success
  type: str
  sample: "!abc:example.org"
own_server:
  description: The server name of the token's user (your server).
  returned: success
  type: str
  sample: example.org
admin_api:
  description: Whether Synapse's admin API was used (members and backoff data).
  returned: success
  type: bool
  sample: true
servers:
  description:
    - One entry per server of the room, worst first (unreachable, backing off, failing, outbound failing, healthy,
      then your own server).
  returned: success
  type: list
  elements: dict
  contains:
    server_name:
      description: The server name.
      type: str
    own:
      description: Whether it is your server.
      type: bool
    members:
      description: Joined members on that server.
      type: int
    federation_ok:
      description: The delegation check's verdict from the controller.
      type: bool
    cause:
      description: The first error of the check (code, message), or null when it passed.
      type: dict
    reachable_from:
      description: The check's per-implementation verdict.
      type: dict
    outbound:
      description: Your homeserver's own attempt (ok, status, detail), or null when not asked.
      type: dict
    backoff:
      description:
        - Synapse's record for the destination (known, failing, backing_off, failing_since, next_retry, retry_interval_ms,
          failure_ts, retry_last_ts, next_retry_ts, resettable), or null without the admin API.
      type: dict
    reset:
      description: Whether its backoff was reset by this run (or would be, in check mode).
      type: bool
  sample: [{"server_name": "broken.example", "own": false, "members": 1, "federation_ok": false,
            "cause": {"code": "connect_refused", "message": "..."}, "outbound": {"ok": false, "status": 502,
            "detail": "HTTP 502 M_UNKNOWN Failed to fetch profile"}, "backoff": {"backing_off": true}, "reset": false}]
unreachable_servers:
  description:
    - Server names the check found unreachable. (Not C(unreachable), which Ansible reads as "the host running the
      module is unreachable".)
  returned: success
  type: list
  elements: str
backing_off:
  description: Server names your Synapse backs off from now.
  returned: success
  type: list
  elements: str
reset:
  description: Server names whose backoff was reset (or would be, in check mode).
  returned: success
  type: list
  elements: str
not_checked:
  description: Servers beyond the limit of 1000 per call, and member IDs that are not user IDs.
  returned: success
  type: list
  elements: str
table:
  description: The servers as a fixed-width text table, worst first.
  returned: success
  type: str
summary:
  description: One line - how many servers, how many unreachable and backed off.
  returned: success
  type: str
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mxfed.federation.plugins.module_utils._api import ApiError, HomeserverApi
from ansible_collections.mxfed.federation.plugins.module_utils._discovery import check_many
from ansible_collections.mxfed.federation.plugins.module_utils._dns import DNSPYTHON_IMPORT_ERROR, HAS_DNSPYTHON
from ansible_collections.mxfed.federation.plugins.module_utils._http import H11_IMPORT_ERROR, HAS_H11
from ansible_collections.mxfed.federation.plugins.module_utils._network import Network
from ansible_collections.mxfed.federation.plugins.module_utils._room_health import room_health
from ansible_collections.mxfed.federation.plugins.module_utils._room import RoomError, room_kind
from ansible_collections.mxfed.federation.plugins.module_utils._options import ca_path_problem, timeout_problem
from ansible_collections.mxfed.federation.plugins.module_utils._verdict import IMPLEMENTATIONS


ROOM_CONCURRENCY = 32  # servers checked at once (each with its own threads, as when checked alone)


def make_network(params):
    """Build the network access from the module options (tests replace this)."""
    return Network(nameservers=params['nameservers'], ca_path=params['ca_path'], timeout=params['timeout'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            homeserver_url=dict(type='str', required=True),
            access_token=dict(type='str', required=True, no_log=True),
            room=dict(type='str', required=True),
            admin_api=dict(type='str', choices=['auto', 'synapse', 'none'], default='auto'),
            reset_connection=dict(type='bool', default=False),
            outbound=dict(type='bool', default=True),
            nameservers=dict(type='list', elements='str'),
            ca_path=dict(type='path'),
            timeout=dict(type='float', default=10.0),
            implementations=dict(type='list', elements='str', choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'), exception=DNSPYTHON_IMPORT_ERROR)
    if not HAS_H11:
        module.fail_json(msg=missing_required_lib('h11'), exception=H11_IMPORT_ERROR)
    problem = timeout_problem(params['timeout']) or ca_path_problem(params['ca_path'])
    if problem:
        module.fail_json(msg=problem)
    if not params['implementations']:
        module.fail_json(msg='implementations must name at least one of %s.' % ', '.join(IMPLEMENTATIONS))
    if params['reset_connection'] and params['admin_api'] == 'none':
        module.fail_json(msg='reset_connection needs the admin API: set admin_api to auto or synapse.')
    # Input errors first: they must never cause network traffic.
    try:
        room_kind(params['room'])
        HomeserverApi(None, params['homeserver_url'], params['access_token'])  # parses the URL only
    except (RoomError, ApiError) as exc:
        module.fail_json(msg='Invalid input: %s.' % exc.message)
    try:
        network = make_network(params)
    except ValueError as exc:
        module.fail_json(msg='Invalid nameservers %s: %s. nameservers must be IP addresses of DNS resolvers.'
                         % (params['nameservers'], exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Cannot set up DNS/TLS: %s' % exc, exception=traceback.format_exc())

    def api_factory():
        return HomeserverApi(network, params['homeserver_url'], params['access_token'])

    def check(names):
        return check_many(names, network, checks=('keys', 'version'), concurrency=ROOM_CONCURRENCY,
                          implementations=params['implementations'])

    try:
        result = room_health(api_factory, check, params['room'], admin_api=params['admin_api'],
                             reset_connection=params['reset_connection'], outbound=params['outbound'],
                             check_mode=module.check_mode, now_ms=lambda: int(time.time() * 1000))
    except (RoomError, ApiError) as exc:
        module.fail_json(msg='Room health of %s via %s: %s' % (params['room'], params['homeserver_url'], exc.message))
    module.exit_json(changed=bool(result['reset']), **result)


if __name__ == '__main__':
    main()
