# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Jinja2 filters over plugins/module_utils/_workers.py: the Synapse worker layout for the synapse
role (errors, what one host runs) and for the proxy (the routing table); and over
_connections.py: whether PostgreSQL admits every process's pool. Documented in the .yml files
beside this one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.mxfed.federation.plugins.module_utils._connections import connection_errors
from ansible_collections.mxfed.federation.plugins.module_utils._workers import (
    federation_sender_instances,
    main_listeners,
    routing_table,
    shared_config,
    stale_workers,
    worker_config,
    worker_errors,
    workers_on,
)


def synapse_worker_errors(workers, hosts=None, variable='synapse_workers'):
    return worker_errors(workers, None if hosts is None else list(hosts), variable)


def synapse_worker_plan(workers, host, main_address, replication_port, bind_address):
    problems = worker_errors(workers)
    if problems:
        raise AnsibleFilterError(' '.join(problems))
    return {
        'shared': shared_config(workers, main_address, int(replication_port)),
        'main_listeners': main_listeners(workers, main_address, int(replication_port)),
        'senders': federation_sender_instances(workers),
        'local': [{'name': w['name'], 'type': w['type'], 'config': worker_config(w, bind_address)}
                  for w in workers_on(workers, host)],
    }


def synapse_stale_workers(file_names, workers, host):
    problems = worker_errors(workers)
    if problems:
        raise AnsibleFilterError(' '.join(problems))
    return stale_workers(list(file_names), workers, host)


def synapse_worker_routes(workers, addresses):
    problems = worker_errors(workers)
    if problems:
        raise AnsibleFilterError(' '.join(problems))
    try:
        return routing_table(workers, dict(addresses))
    except ValueError as exc:
        raise AnsibleFilterError('synapse_worker_routes: %s' % exc)


def synapse_connection_errors(processes, cp_max, max_connections):
    return connection_errors(processes, cp_max, max_connections)


class FilterModule(object):
    def filters(self):
        return {
            'synapse_connection_errors': synapse_connection_errors,
            'synapse_stale_workers': synapse_stale_workers,
            'synapse_worker_errors': synapse_worker_errors,
            'synapse_worker_plan': synapse_worker_plan,
            'synapse_worker_routes': synapse_worker_routes,
        }
