#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: delegation_check
short_description: Check that other Matrix servers can find and trust a homeserver
version_added: 0.1.0
description:
  - Resolves a Matrix server name exactly as other homeservers do (Matrix spec, server-server API,
    "Resolving server names" - IP literals, explicit ports, C(/.well-known/matrix/server), SRV
    C(_matrix-fed._tcp) then the deprecated C(_matrix._tcp), A/AAAA, port 8448) and records the
    step taken and every record seen, including shadowed ones.
  - Connects to B(every) resolved address on its own, with the TLS SNI and Host header other servers
    use, verifies the certificate chain with only what the server sends (naming a missing intermediate
    certificate as such), the certificate name and expiry.
  - Fetches C(/_matrix/key/v2/server) from every address and verifies C(server_name), the ed25519
    signatures over canonical JSON and C(valid_until_ts), and that all addresses serve the same keys.
  - Optionally checks the federation version endpoint, the client well-known (base URL and CORS) and
    whether a reverse proxy in front of the homeserver rejects large transactions or decodes
    percent-encoded paths.
  - Decides the verdict as real homeservers do (the route decides it, not "no error anywhere"); for
    Synapse, Dendrite and Conduit in turn it walks the route with that implementation's fallbacks and
    deadlines (RV(reachable_from), RV(reachability)) and asks whether it ends at an address that proves
    the server's identity. Problems peers skip past (a broken well-known whose fallback works, one dead
    address or SRV target before a working one) become warnings that name the risk.
  - Returns a structured report and a short human summary that says what to change. The task fails
    when an implementation listed in O(implementations) could not federate with the server name.
  - Read-only. TLS verification cannot be turned off; use O(ca_path) to add a private CA.
author:
  - mxfed.federation contributors (@mxfed)
requirements:
  - dnspython >= 2.0
  - h11 >= 0.16
  - cryptography (ships with ansible-core)
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  server_name:
    description:
      - The server name to check, as in user IDs (V(example.org), V(example.org:8448), V(1.2.3.4), V([2001:db8::1]:8448)).
      - Not a URL; no scheme and no path.
      - Exactly one of O(server_name) and O(server_names) is required.
    type: str
  server_names:
    description:
      - Several server names to check in one call, concurrently (16 at a time). Each name is checked exactly as
        it would be alone (its own threads and deadlines), so its verdict does not depend on the names beside it.
      - A name given twice is checked once. A malformed name gets its own input-error result and causes no traffic;
        the others are still checked.
      - The per-name results are in RV(results), in the order given; RV(federation_ok) is true when every name
        passes, RV(failed_names) lists the others, and the task fails when one fails.
    type: list
    elements: str
    version_added: 0.1.0
  nameservers:
    description:
      - IP addresses of DNS servers to ask instead of the system resolver (for example a lab DNS server).
    type: list
    elements: str
  ca_path:
    description:
      - Path on the host running the module to a PEM file with extra trusted CA certificates (for example a
        private ACME CA root), or a directory of such files (every regular file in it is read; no C(c_rehash)
        names needed). At most 8 MiB in all. The system trust store stays in use.
    type: path
  timeout:
    description:
      - Timeout in seconds for each DNS lookup (all nameservers together), connection and HTTP request, on the
        wall clock. From 0.1 to 300.
      - It also bounds each of the check's three steps (well-known, DNS, per-address work), so one check of one
        name ends within 3 x O(timeout) + 1 s whatever the remote does; the finding C(step_deadline) names a step
        that ran out.
      - A request that does not answer within it is reported as a timeout; the verdict then uses each
        implementation's own deadlines (a blackholed address costs Synapse 30 s, Dendrite 5 s).
    type: float
    default: 10
  ip_version:
    description:
      - Which address families to resolve and check. V(any) checks A and AAAA records.
    type: str
    choices: [any, '4', '6']
    default: any
  checks:
    description:
      - Optional check groups. Discovery, TCP and TLS checks always run.
      - V(keys) fetches and verifies C(/_matrix/key/v2/server) on every address.
      - V(version) asks C(/_matrix/federation/v1/version).
      - V(client) checks C(/.well-known/matrix/client), its CORS header and that C(m.homeserver.base_url) answers
        C(/_matrix/client/versions).
      - V(proxy) sends an unauthenticated 1.1 MiB C(PUT /_matrix/federation/v1/send/<txn>) (expects the homeserver's
        Matrix 401, not a proxy 413) and a request with a percent-encoded C(%2F) in an event ID (expects it to reach the
        homeserver intact).
      - V(proxy) also sends one small unauthenticated request per federation route a proxy may send to its own pool of
        processes (Synapse workers) - a transaction, a profile query, an empty key query, a media download - and names a
        route the proxy answers itself (C(route_backend_unavailable) for its 502/503/504, that pool being down;
        C(proxy_nonmatrix_response) for another page of its own, the route missing), with who breaks. Each route's result is in
        C(routes) of RV(addresses[].proxy).
      - V(proxy) is meant for your own servers (the C(homeserver) role's gate uses it); leave it out when you check
        servers you do not run, as C(playbooks/verify.yml) does by default. Without it a check of one name sends at
        most a few KiB (one well-known request and a few key, version and client requests per address).
    type: list
    elements: str
    choices: [keys, version, client, proxy]
    default: [keys, version, client, proxy]
  fail_on_warning:
    description:
      - Also fail when the check found only warnings (setups that work but bite later).
    type: bool
    default: false
  show_warnings:
    description:
      - Also emit one Ansible warning line per warning finding (the default, for playbooks that do not print
        RV(summary)). C(playbooks/verify.yml) and the C(homeserver) role print the summary and turn this off, so
        that the report is shown once.
    type: bool
    default: true
  implementations:
    description:
      - Whose failure to reach the server fails the task. The check always evaluates all of them and
        returns each verdict in RV(reachable_from); for the others an unreachable verdict is a warning
        (C(peer_unreachable_other)).
      - V(synapse) and V(dendrite) follow what Synapse 1.163 and Dendrite 0.13.8 were measured to do in the
        project's differential lab; V(conduit) is modelled from Conduit's source (not measured).
    type: list
    elements: str
    choices: [synapse, dendrite, conduit]
    default: [synapse, dendrite, conduit]
notes:
  - Run it where the network view matches other homeservers', usually on the controller with
    C(delegate_to=localhost), not on the homeserver itself.
  - Error and warning codes are stable; see RV(errors) and RV(warning_findings).
seealso:
  - name: Matrix specification, Resolving server names
    description: The algorithm this module follows.
    link: https://spec.matrix.org/latest/server-server-api/#resolving-server-names
  - name: Matrix specification, Retrieving server keys
    description: The key checks.
    link: https://spec.matrix.org/latest/server-server-api/#retrieving-server-keys
'''

EXAMPLES = r'''
- name: Check several names at once (one report each in results)
  mxfed.federation.delegation_check:
    server_names: [example.org, example.net]
    checks: [keys, version, client]  # no proxy probes: not all of them are ours
  delegate_to: localhost
  register: many

- name: Check federation of example.org from the controller
  mxfed.federation.delegation_check:
    server_name: example.org
  delegate_to: localhost
  register: federation

- name: Show what to change
  ansible.builtin.debug:
    msg: "{{ federation.summary }}"

- name: Check a lab server with the lab DNS and the lab ACME root, IPv4 only, no proxy probes
  mxfed.federation.delegation_check:
    server_name: alpha.test
    nameservers: [172.30.0.53]
    ca_path: /tmp/lab/pebble-root.pem
    ip_version: '4'
    checks: [keys, version, client]
    timeout: 5
  delegate_to: localhost

- name: Only Synapse peers matter for this server
  mxfed.federation.delegation_check:
    server_name: example.org
    implementations: [synapse]
  delegate_to: localhost

- name: Gate a deploy on a warning-free setup
  mxfed.federation.delegation_check:
    server_name: example.org
    fail_on_warning: true
  delegate_to: localhost
'''

RETURN = r'''
results:
  description:
    - With O(server_names), one result per distinct name, in the order given; each has the keys a single-name check
      returns (RV(server_name), RV(federation_ok), RV(errors), RV(warning_findings), RV(notes), RV(summary), ...).
  returned: when O(server_names) is given
  type: list
  elements: dict
  sample: [{"server_name": "example.org", "federation_ok": true, "errors": [], "warning_findings": [], "notes": [],
            "summary": "Federation check for example.org: OK ..."}]
failed_names:
  description: With O(server_names), the names whose check failed (or, with O(fail_on_warning), found warnings).
  returned: when O(server_names) is given
  type: list
  elements: str
  sample: ["example.net"]
federation_ok:
  description:
    - V(true) when every implementation in O(implementations) reaches an address that proves the server's identity
      (TLS for the right name, keys signed for the server name), walking the route with its own fallbacks and deadlines.
    - With O(server_names), V(true) when every name passes.
  returned: always
  type: bool
  sample: true
implementations:
  description: The implementations whose verdict decided RV(federation_ok).
  returned: success
  type: list
  elements: str
  sample: [synapse, dendrite, conduit]
reachable_from:
  description: Per implementation, whether a server of that kind would reach this one.
  returned: success
  type: dict
  sample: {"synapse": true, "dendrite": true, "conduit": true}
  contains:
    synapse:
      description: Synapse's verdict.
      type: bool
    dendrite:
      description: Dendrite's verdict.
      type: bool
    conduit:
      description: Conduit's verdict (modelled from its source).
      type: bool
reachability:
  description: Per implementation, the verdict with its reason.
  returned: success
  type: dict
  sample: {"synapse": {"reachable": false, "measured": true, "address": null, "skipped": [],
            "reason": "a.example.org:8448: no address connected (192.0.2.6 timeout); Synapse waits 30 s ..."}}
  contains:
    reachable:
      description: Same as in RV(reachable_from).
      type: bool
    reason:
      description: Why not, in the order the implementation walks the route; V(null) when reachable.
      type: str
    measured:
      description: V(true) when the rules were measured against a real server of that kind, V(false) when modelled
        from its source.
      type: bool
    address:
      description: Where it gets through (C(host:port (ip))), else V(null).
      type: str
    skipped:
      description: What it skipped past on the way (dead addresses, targets that failed).
      type: list
      elements: str
fallback:
  description: After an SRV lookup failure, the C(<name>:8448) route that Dendrite and Conduit take (targets, addresses,
    as in RV(targets) and RV(addresses)); V(null) otherwise.
  returned: success
  type: dict
  sample: null
summary:
  description:
    - Short human text - the verdict, the path taken and for each error and warning what to change.
    - With O(server_names), the names' summaries one after another, then a line naming the names that failed.
  returned: always
  type: str
  sample: "Federation check for example.org: OK (step 3.2, ...)\n- warning federation_port_443: ... Fix: ..."
server_name:
  description: The server name checked, as given.
  returned: when O(server_name) is given
  type: str
  sample: example.org
step:
  description:
    - The row of the spec's algorithm that applied - V(1) IP literal, V(2) explicit port, V(3.1)..V(3.5) well-known
      delegation (IP, port, SRV C(_matrix-fed), deprecated SRV C(_matrix), no SRV), V(4) SRV C(_matrix-fed) on the
      server name, V(5) deprecated SRV C(_matrix), V(6) plain host on 8448.
    - V(null) for bad input.
  returned: always
  type: str
  sample: '3.3'
route:
  description: One line describing the discovery path.
  returned: success
  type: str
  sample: "step 3.3, well-known -> matrix.example.org, SRV _matrix-fed._tcp.matrix.example.org, -> hs1.example.org:8448, Host: matrix.example.org"
host_header:
  description: The Host header other servers send.
  returned: success
  type: str
  sample: matrix.example.org
tls_server_name:
  description: The name (or IP) the certificate must be valid for.
  returned: success
  type: str
  sample: matrix.example.org
sni:
  description: The TLS SNI sent; V(null) for IP literals.
  returned: success
  type: str
  sample: matrix.example.org
delegated_server_name:
  description: The C(m.server) value of a valid well-known file, else V(null).
  returned: success
  type: str
  sample: matrix.example.org:443
well_known:
  description: What C(https://<server name>/.well-known/matrix/server) answered.
  returned: success
  type: dict
  contains:
    url:
      description: The URL fetched.
      type: str
      sample: https://example.org/.well-known/matrix/server
    result:
      description:
        - V(delegated), V(absent) (404), V(unreachable), V(timeout), V(tls_error), V(http_error), V(too_large),
          V(invalid_json), V(invalid), V(invalid_m_server) (a string that is not a server name), V(redirect_loop),
          V(redirect_limit), V(redirect_insecure), or V(skipped) (steps 1 and 2).
      type: str
      sample: delegated
    status:
      description: Final HTTP status.
      type: int
      sample: 200
    redirects:
      description: The redirect hops followed (url, status, location, address).
      type: list
      elements: dict
      sample: []
    content_type:
      description: Content-Type of the final answer.
      type: str
      sample: application/json
    size:
      description: Body size in bytes.
      type: int
      sample: 38
    m_server:
      description: The raw C(m.server) value.
      type: raw
      sample: matrix.example.org:443
    cache:
      description: C(cache_control), C(expires), C(header_seconds) (what the headers say) and C(effective_seconds)
        (what Synapse would use - default 24 h, headers clamped to 5 min..48 h).
      type: dict
      sample: {"cache_control": null, "expires": null, "header_seconds": null, "effective_seconds": 86400}
    error:
      description: Transport error text, if any.
      type: str
      sample: null
    seconds:
      description: How long the fetch took (redirects included).
      type: float
      sample: 0.03
    timeout_phase:
      description: When the fetch timed out, where it hung - V(connect) (no TCP answer), V(tls) (accepted, no handshake)
        or V(response) (no HTTP answer). Peers bound these differently (Go's default transport gives a handshake 10 s).
      type: str
      sample: tls
    per_address:
      description: When the server name has several addresses, what each one answered (address, answer, error); they
        must agree, because every other server picks one of them.
      type: list
      elements: dict
      sample: [{"address": "192.0.2.1", "answer": "HTTP 200 m.server=matrix.example.org:443", "error": null}]
srv:
  description: Every SRV lookup made, on the server name and on the delegated name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The SRV name queried.
      type: str
      sample: _matrix-fed._tcp.matrix.example.org
    status:
      description: V(ok), V(nxdomain), V(nodata), V(servfail), V(timeout) or V(error).
      type: str
      sample: ok
    records:
      description: Records (priority, weight, port, target, ttl).
      type: list
      elements: dict
      sample: [{"priority": 10, "weight": 5, "port": 8448, "target": "hs1.example.org.", "ttl": 300}]
    deprecated:
      description: Whether this is the deprecated C(_matrix._tcp) name.
      type: bool
      sample: false
    queried_for:
      description: V(server_name) or V(delegated).
      type: str
      sample: delegated
    used:
      description: Whether discovery used these records.
      type: bool
      sample: true
    shadowed:
      description: Records exist but are ignored (C(_matrix._tcp) beside C(_matrix-fed._tcp), or SRV on the server name
        when well-known delegates elsewhere).
      type: bool
      sample: false
    error:
      description: DNS error text.
      type: str
      sample: null
targets:
  description: The host/port pairs connected to, in SRV priority order, with their A/AAAA lookups.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: Host name (SRV target or server name) or IP.
      type: str
      sample: hs1.example.org
    port:
      description: Port.
      type: int
      sample: 8448
    srv:
      description: The SRV name this target came from, or V(null).
      type: str
      sample: _matrix-fed._tcp.matrix.example.org
    priority:
      description: SRV priority.
      type: int
      sample: 10
    weight:
      description: SRV weight.
      type: int
      sample: 5
    addresses:
      description: Resolved addresses.
      type: list
      elements: str
      sample: ["192.0.2.10", "2001:db8::10"]
    dns:
      description: The A/AAAA answers (name, type, status, records, canonical_name, error).
      type: list
      elements: dict
      sample: []
    unchecked_addresses:
      description: Addresses beyond the cap of 4 per host (at most 2 per family) that were not checked; the verdict
        counts them as not answering (C(addresses_capped)).
      type: list
      elements: str
      sample: []
unchecked_targets:
  description: SRV targets (C(host:port)) beyond the cap of 5 that were not checked (C(srv_targets_capped)); the verdict
    counts them as not working.
  returned: success
  type: list
  elements: str
  sample: []
addresses:
  description: One result per address, each checked on its own.
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: IP address.
      type: str
      sample: 192.0.2.10
    family:
      description: 4 or 6.
      type: int
      sample: 4
    port:
      description: Port.
      type: int
      sample: 8448
    host:
      description: Target host this address belongs to.
      type: str
      sample: hs1.example.org
    sni:
      description: SNI sent.
      type: str
      sample: matrix.example.org
    host_header:
      description: Host header sent.
      type: str
      sample: matrix.example.org
    tcp:
      description: V(ok), V(refused), V(unreachable) or V(timeout).
      type: str
      sample: ok
    tls:
      description: C(verified), C(version), C(cipher), C(verify_code), C(verify_error) and C(chain) (the certificates the server
        sent, each with subject, issuer, names and validity).
      type: dict
      sample: {"verified": true, "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "verify_code": null,
               "verify_error": null, "chain": []}
    certificate:
      description: The leaf certificate (subject, issuer, dns_names, ip_addresses, not_before, not_after, serial,
        expected_name, name_ok, seconds_left).
      type: dict
      sample: {"dns_names": ["matrix.example.org"], "name_ok": true, "seconds_left": 7000000}
    keys:
      description: The key response (status, content_type, server_name, verify_keys, old_verify_keys, valid_until_ts,
        valid_for_seconds, signatures per key id, signatures_valid, ok).
      type: dict
      sample: {"status": 200, "server_name": "example.org", "signatures_valid": true, "ok": true}
    version:
      description: Status, name and version from C(/_matrix/federation/v1/version).
      type: dict
      sample: {"status": 200, "name": "Synapse", "version": "1.163.0"}
    proxy:
      description:
        - C(routes), one entry per federation route probed (route, method, path, status, C(answered_by) V(homeserver),
          V(backend_down) or V(not_forwarded), ok), then C(large_transaction) and C(encoded_path) (status, errcode, ok;
          C(skipped) and ok null when the route they use did not reach the homeserver).
      type: dict
      sample: {"routes": [{"route": "transactions", "method": "PUT", "path": "/_matrix/federation/v1/send/mxfed-check-1a2b",
                           "status": 401, "answered_by": "homeserver", "ok": true}],
               "large_transaction": {"status": 401, "errcode": "M_UNAUTHORIZED", "ok": true}}
    server_header:
      description: The Server response header.
      type: str
      sample: nginx
    ok:
      description: Whether this address passed TLS, name and key checks.
      type: bool
      sample: true
    error:
      description: Why the address failed early (connect/TLS), else V(null).
      type: str
      sample: null
    timings:
      description: Seconds spent on connect_tls, keys and total.
      type: dict
      sample: {"connect_tls": 0.021, "keys": 0.004, "total": 0.03}
keys:
  description: The keys seen (server_name, verify_keys, valid_until_ts), C(consistent) across addresses and the number of
    C(variants); V(null) when no address served keys.
  returned: success
  type: dict
  sample: {"server_name": "example.org", "verify_keys": {"ed25519:a_AbCd": "base64"}, "consistent": true, "variants": 1}
version:
  description: The first homeserver version answer (status, name, version).
  returned: success
  type: dict
  sample: {"status": 200, "name": "Synapse", "version": "1.163.0"}
client:
  description: Client discovery (url, status, cors, base_url, versions, versions_cors, redirects); V(null) unless the
    V(client) check ran.
  returned: success
  type: dict
  sample: {"status": 200, "cors": "*", "base_url": "https://matrix.example.org", "versions": ["v1.11"]}
checks:
  description: The optional check groups that ran.
  returned: success
  type: list
  elements: str
  sample: [keys, version, client, proxy]
errors:
  description:
    - Problems that stop some or all servers from federating. Each has C(code), C(level), C(step) (algorithm row or phase
      V(input), V(dns), V(connect), V(tls), V(keys), V(proxy), V(verdict)), C(message), C(fix) and C(address).
    - When federation fails, the first entries are C(peer_unreachable), one per distinct reason, naming the implementations
      it stops; the rest are the evidence.
    - The codes below are errors when federation depends on them; when peers reach the server another way they are
      reported in RV(warning_findings) instead, their message saying so. Well-known codes listed under RV(warning_findings)
      that describe an unusable file become errors when its fallback fails too.
    - "Codes: name_empty, name_scheme, name_path, name_port_invalid, name_ipv6_malformed, name_ipv4_malformed, name_invalid,
      well_known_invalid_m_server, well_known_inconsistent, dns_servfail, dns_timeout, dns_error, dns_nxdomain,
      no_address, srv_no_service, tcp_connect_failed, tls_handshake_failed, tls_missing_intermediate, tls_untrusted,
      tls_cert_expired, tls_cert_not_yet_valid, tls_name_mismatch, keys_request_failed, backend_unavailable,
      keys_status, keys_invalid_json, keys_server_name_mismatch, keys_no_ed25519, keys_unsigned, keys_bad_signature,
      keys_expired, keys_differ, no_usable_address, peer_unreachable."
  returned: always
  type: list
  elements: dict
  sample: [{"code": "tls_missing_intermediate", "level": "error", "step": "tls", "address": "192.0.2.10:8448",
            "message": "The server sends only its own certificate ...", "fix": "Serve the full chain ..."}]
warning_findings:
  description:
    - Setups that work today but bite, same fields as RV(errors).
    - Not called C(warnings) because Ansible reserves that key for plain text warnings, which the module also emits, one
      line per finding.
    - "Codes: well_known_tls, well_known_status, well_known_redirect, well_known_redirect_cross_host,
      well_known_redirect_loop, well_known_redirect_limit, well_known_redirect_insecure, well_known_too_large,
      well_known_invalid_json, well_known_not_object, well_known_missing_m_server, well_known_address_unreachable,
      well_known_redirect_invalid, well_known_timeout, well_known_content_type, dns_partial_failure, srv_target_cname,
      srv_deprecated, srv_targets_capped, addresses_capped, step_deadline, requests_capped,
      ipv6_not_listening, tls_cert_expiring, federation_port_443, proxy_cloudflare, keys_content_type,
      keys_expiring, version_failed, client_well_known_missing, client_well_known_invalid, client_cors_missing,
      client_versions_failed, proxy_body_limit, proxy_upload_closed, proxy_path_mangled, proxy_nonmatrix_response,
      route_backend_unavailable, peer_unreachable_other."
  returned: always
  type: list
  elements: dict
  sample: [{"code": "federation_port_443", "level": "warning", "step": "3.2", "address": null,
            "message": "Federation is served on port 443 ...", "fix": "Prefer a dedicated federation port ..."}]
notes:
  description:
    - Facts worth knowing that need no change, same fields as RV(errors).
    - "Codes: well_known_absent, well_known_unreachable, well_known_cache_short, srv_shadowed, srv_ignored_delegated,
      srv_duplicate_records."
  returned: always
  type: list
  elements: dict
  sample: [{"code": "well_known_absent", "level": "info", "step": "3"}]
elapsed:
  description: Seconds the check took.
  returned: success
  type: float
  sample: 0.42
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mxfed.federation.plugins.module_utils._discovery import (
    OPTIONAL_CHECKS,
    check_many,
    check_server,
)
from ansible_collections.mxfed.federation.plugins.module_utils._servername import (
    ServerNameError,
    parse_server_name,
)
from ansible_collections.mxfed.federation.plugins.module_utils._dns import (
    DNSPYTHON_IMPORT_ERROR,
    HAS_DNSPYTHON,
)
from ansible_collections.mxfed.federation.plugins.module_utils._http import (
    H11_IMPORT_ERROR,
    HAS_H11,
)
from ansible_collections.mxfed.federation.plugins.module_utils._network import Network
from ansible_collections.mxfed.federation.plugins.module_utils._options import ca_path_problem, timeout_problem
from ansible_collections.mxfed.federation.plugins.module_utils._verdict import IMPLEMENTATIONS


def make_network(params):
    """Build the network access from the module options (tests replace this)."""
    return Network(nameservers=params['nameservers'], ca_path=params['ca_path'], timeout=params['timeout'],
                   ip_version=params['ip_version'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server_name=dict(type='str'),
            server_names=dict(type='list', elements='str'),
            nameservers=dict(type='list', elements='str'),
            ca_path=dict(type='path'),
            timeout=dict(type='float', default=10.0),
            ip_version=dict(type='str', choices=['any', '4', '6'], default='any'),
            checks=dict(type='list', elements='str', choices=list(OPTIONAL_CHECKS), default=list(OPTIONAL_CHECKS)),
            fail_on_warning=dict(type='bool', default=False),
            show_warnings=dict(type='bool', default=True),
            implementations=dict(type='list', elements='str', choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS)),
        ),
        required_one_of=[('server_name', 'server_names')],
        mutually_exclusive=[('server_name', 'server_names')],
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

    # Input errors first: they must never cause network traffic.
    if params['server_names'] is not None:
        names = unique(params['server_names'])
        if not names:
            module.fail_json(msg='server_names is empty: give one or more server names as in user IDs, e.g. '
                             '[example.org, example.net].')
    else:
        names = None
        try:
            parse_server_name(params['server_name'])
        except ServerNameError as exc:
            fix = 'Give host[:port] as in user IDs, e.g. example.org or example.org:8448.'
            module.fail_json(msg='Invalid server_name %r: %s %s' % (params['server_name'], exc.message, fix),
                             server_name=params['server_name'], federation_ok=False, step=None,
                             errors=[{'code': exc.code, 'level': 'error', 'step': 'input', 'message': exc.message,
                                      'fix': fix, 'address': None}], warning_findings=[], notes=[], summary=exc.message)

    try:
        network = make_network(params)
    except ValueError as exc:
        module.fail_json(msg='Invalid nameservers %s: %s. nameservers must be the IP addresses of DNS resolvers, '
                         'such as ["192.0.2.53"], or empty to use the system resolver.' % (params['nameservers'], exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot load ca_path %s: %s. ca_path must be a PEM file of trusted CA certificates (or a '
                         'directory of them) on the host that runs the check, or empty for the system CAs.'
                         % (params['ca_path'], exc))
    except Exception as exc:  # pylint: disable=broad-except
        # dnspython raises NoResolverConfiguration without /etc/resolv.conf.
        module.fail_json(msg='Cannot set up DNS/TLS: %s' % exc, exception=traceback.format_exc())

    if not params['implementations']:
        module.fail_json(msg='implementations must name at least one of %s: whose failure to reach the server fails the '
                         'task.' % ', '.join(IMPLEMENTATIONS))
    if names is not None:
        finish_many(module, params, check_many(names, network, checks=params['checks'] or [],
                                               implementations=params['implementations']))
    result = check_server(params['server_name'], network, checks=params['checks'] or [],
                          implementations=params['implementations'])
    structured_warnings = publish_warnings(module, params, result)
    failed = not result['federation_ok'] or (params['fail_on_warning'] and bool(structured_warnings))
    result['changed'] = False
    if failed:
        if result['federation_ok']:
            msg = 'Federation works but the check found warnings (fail_on_warning): %s' % result['summary']
        else:
            msg = 'Other servers cannot federate with %s: %s' % (params['server_name'], result['summary'])
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


def unique(names):
    """The names in the order given, each once."""
    seen = set()
    out = []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def publish_warnings(module, params, result, prefix=''):
    """Move the structured warnings to warning_findings and show them as Ansible warnings.

    Ansible treats a top-level "warnings" key as deprecation-style warnings of strings; keep our
    structured list under its own key and show short lines through module.warn."""
    structured_warnings = result.pop('warnings')
    result['warning_findings'] = structured_warnings
    if params['show_warnings']:
        for item in structured_warnings:
            module.warn('%s%s: %s' % (prefix, item['code'], item['message']))
    return structured_warnings


def finish_many(module, params, results):
    """Exit with the results of a server_names check: per-name results and the aggregate."""
    failed_names = []
    for result in results:
        structured_warnings = publish_warnings(module, params, result, prefix='%s: ' % result['server_name'])
        if not result['federation_ok'] or (params['fail_on_warning'] and structured_warnings):
            failed_names.append(result['server_name'])
    summary = '\n\n'.join(result['summary'] for result in results)
    if failed_names:
        summary += '\n\nFailed: %s (%d of %d names).' % (', '.join(failed_names), len(failed_names), len(results))
    else:
        summary += '\n\nAll %d names passed.' % len(results)
    out = dict(changed=False, results=results,
               federation_ok=all(r['federation_ok'] for r in results), failed_names=failed_names, summary=summary)
    if failed_names:
        module.fail_json(msg='Federation check failed for %s: %s' % (', '.join(failed_names), summary), **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
