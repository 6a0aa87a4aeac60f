# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# SPDX-License-Identifier: Apache-2.0
"""_connections: Synapse's database pools against PostgreSQL's max_connections."""

from __future__ import absolute_import, division, print_function

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mxfed.federation.plugins.module_utils._connections import (
    SUPERUSER_RESERVED,
    TOOLS,
    connection_errors,
)


def test_the_documented_limit_of_debian_defaults():
    # docs/workers.md: with cp_max 10 and Debian's 100, nine processes fit and ten do not.
    assert connection_errors(9, 10, 100) == []
    problems = connection_errors(10, 10, 100)
    assert problems == [
        "10 Synapse processes (the main one and 9 workers) open up to 100 PostgreSQL connections "
        "(synapse_postgres_cp_max 10 each), more than the 95 that postgresql_max_connections 100 leaves after 3 "
        "for superusers and 2 for the collection's tools: raise postgresql_max_connections to at least 105, "
        "or lower synapse_postgres_cp_max to at most 9."]


def test_no_lower_pool_fits_when_there_are_more_processes_than_connections():
    problems = connection_errors(50, 1, 20)
    assert len(problems) == 1
    assert 'raise postgresql_max_connections to at least 55.' in problems[0]
    assert 'lower synapse_postgres_cp_max' not in problems[0]


@pytest.mark.parametrize('args, fragment', [
    ((0, 10, 100), 'the number of Synapse processes must be an integer of at least 1, got 0.'),
    ((True, 10, 100), 'the number of Synapse processes must be an integer of at least 1, got True.'),
    ((3, 'ten', 100), "synapse_postgres_cp_max must be an integer of at least 1 (connections per Synapse process), got 'ten'."),
    ((3, -1, 100), 'synapse_postgres_cp_max must be an integer of at least 1'),
    ((3, 10, 5), 'postgresql_max_connections must be an integer of at least 6'),
    ((3, 10, None), 'got None.'),
    ((3, 10, 2.5), 'got 2.5.'),
])
def test_bad_input_is_named(args, fragment):
    problems = connection_errors(*args)
    assert any(fragment in p for p in problems), problems


def test_numbers_as_strings_are_read():
    # Inventory values often arrive as strings.
    assert connection_errors('9', ' 10 ', '100') == []
    assert connection_errors('10', '10', '100') != []


@given(st.integers(1, 200), st.integers(1, 64), st.integers(SUPERUSER_RESERVED + TOOLS + 1, 5000))
def test_verdict_and_suggested_values(processes, cp_max, max_connections):
    problems = connection_errors(processes, cp_max, max_connections)
    fits = processes * cp_max <= max_connections - SUPERUSER_RESERVED - TOOLS
    assert (problems == []) == fits
    if fits:
        return
    # Each suggested value is the bound: it fits, and one step short of it does not.
    raised = int(re.search(r'postgresql_max_connections to at least (\d+)', problems[0]).group(1))
    assert connection_errors(processes, cp_max, raised) == []
    assert connection_errors(processes, cp_max, raised - 1) != []
    lowered = re.search(r'synapse_postgres_cp_max to at most (\d+)', problems[0])
    if lowered:
        assert connection_errors(processes, int(lowered.group(1)), max_connections) == []
        assert connection_errors(processes, int(lowered.group(1)) + 1, max_connections) != []
    else:
        assert connection_errors(processes, 1, max_connections) != []
