# -*- coding: utf-8 -*-
# Copyright (c) mxfed.federation contributors
# Apache License, Version 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
#
# NOTE: this module_utils file is PRIVATE to the mxfed.federation collection.
# It is not a public API: it may change or disappear in any release.
# Pure Python on purpose: no Ansible imports, so the logic is testable alone.
"""Findings (errors, warnings, notes) of the delegation check and the human summary."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ERROR = 'error'
WARNING = 'warning'
INFO = 'info'

# code -> (level, step of the algorithm / check phase, fix an operator understands).
# Codes are stable: automation may match on them. Fix texts may use {placeholders}.
CODES = {
    # input (server name grammar: spec appendix "Server Name")
    'name_empty': (ERROR, 'input', 'Give the server name: the domain in your user IDs, e.g. example.org.'),
    'name_scheme': (ERROR, 'input', 'Drop the scheme: a server name is host[:port], not a URL (use {suggestion}).'),
    'name_path': (ERROR, 'input', 'Drop everything after the host and port: a server name has no path, query or user part.'),
    'name_port_invalid': (ERROR, 'input', 'Use a port between 1 and 65535, or no port at all (8448 is the default).'),
    'name_ipv6_malformed': (ERROR, 'input', 'Write IPv6 literals in brackets, e.g. [2001:db8::1]:8448.'),
    'name_ipv4_malformed': (ERROR, 'input', 'Use a valid IPv4 address (four numbers 0-255) or a DNS name.'),
    'name_invalid': (ERROR, 'input', 'A server name may contain only letters, digits, "-" and "." (plus an optional :port).'),
    # step 3: /.well-known/matrix/server
    'well_known_absent': (INFO, '3', 'Nothing to do unless you meant to delegate: then serve /.well-known/matrix/server.'),
    'well_known_unreachable': (INFO, '3', 'Nothing to do unless you meant to delegate: then serve https://{host}/.well-known/matrix/server.'),
    'well_known_tls': (WARNING, '3', 'Give https://{host} a certificate for {host} from a public CA, with its full chain.'),
    'well_known_status': (WARNING, '3', 'Make https://{host}/.well-known/matrix/server answer 200 with {{"m.server": "<host>[:port]"}}.'),
    'well_known_redirect': (WARNING, '3', 'Serve the file directly on https://{host}/.well-known/matrix/server; redirects cost a '
                                          'round trip and older servers do not follow them.'),
    'well_known_redirect_cross_host': (WARNING, '3', 'Serve the file on {host} itself instead of redirecting to another host.'),
    'well_known_redirect_loop': (WARNING, '3', 'Fix the redirect loop on https://{host}/.well-known/matrix/server (check the web server '
                                               'rewrite rules).'),
    'well_known_redirect_limit': (WARNING, '3', 'Serve the file with fewer than 10 redirects, ideally none.'),
    'well_known_redirect_insecure': (WARNING, '3', 'Redirect only to https:// URLs.'),
    'well_known_redirect_invalid': (WARNING, '3', 'Redirect to a URL peers can fetch: https://host[:port]/path with a DNS name or IP '
                                                  'and a port from 1 to 65535.'),
    'well_known_too_large': (WARNING, '3', 'Serve a small JSON object (servers read at most 50 KiB).'),
    'well_known_invalid_json': (WARNING, '3', 'Serve valid JSON such as {{"m.server": "matrix.{host}:443"}}; other servers silently '
                                              'ignore an invalid file.'),
    'well_known_not_object': (WARNING, '3', 'Serve a JSON object, e.g. {{"m.server": "matrix.{host}:443"}}.'),
    'well_known_missing_m_server': (WARNING, '3', 'Add the "m.server" key, e.g. {{"m.server": "matrix.{host}:443"}}.'),
    'well_known_invalid_m_server': (ERROR, '3', 'Set "m.server" to host[:port] (no scheme, no path), e.g. "matrix.{host}:443".'),
    'well_known_inconsistent': (ERROR, '3', 'Serve the same /.well-known/matrix/server on every address of {host} '
                                       '(check each web server or load-balancer backend).'),
    'well_known_address_unreachable': (WARNING, '3', 'Make every address of {host} answer HTTPS on port 443, or remove '
                                                     'the A/AAAA records that do not; servers that pick them see no delegation.'),
    'well_known_timeout': (WARNING, '3', 'Make https://{host}/.well-known/matrix/server answer within a second or two, or stop '
                                         'https://{host} from accepting connections it never answers: peers wait for it '
                                         'before they try anything else.'),
    'well_known_content_type': (WARNING, '3', 'Serve the file with "Content-Type: application/json".'),
    'well_known_cache_short': (INFO, '3', 'Let servers cache the file: drop no-store or use a max-age of at least 300.'),
    # DNS (steps 2, 3.x, 4, 5, 6)
    'dns_servfail': (ERROR, 'dns', 'Fix the DNS zone/servers for {name}: they answer SERVFAIL, and servers give up instead of falling back.'),
    'dns_timeout': (ERROR, 'dns', 'Make the DNS servers for {name} answer (they timed out).'),
    'dns_error': (ERROR, 'dns', 'Fix DNS for {name}.'),
    'dns_nxdomain': (ERROR, 'dns', 'Create A/AAAA records for {name} (the name does not exist).'),
    'dns_partial_failure': (WARNING, 'dns', 'Fix DNS for {name}: one record type fails ({detail}) while the other answers.'),
    'no_address': (ERROR, 'dns', 'Create an A (and/or AAAA) record for {name}.'),
    'srv_no_service': (ERROR, 'dns', 'Remove the SRV record {name} with target "." (it says "no federation here"), or point it '
                                     'at the homeserver host.'),
    'srv_target_cname': (WARNING, 'dns', 'Point the SRV record at the canonical name {canonical} (RFC 2782: SRV targets must not be aliases).'),
    'srv_deprecated': (WARNING, 'dns', 'Rename the SRV record {name} to {new_name}; _matrix._tcp is deprecated since Matrix v1.8.'),
    'srv_shadowed': (INFO, 'dns', 'Remove the unused SRV record {name} to avoid confusion.'),
    'srv_ignored_delegated': (INFO, 'dns', 'Remove the SRV record {name}: well-known delegation takes precedence, so it is never used.'),
    'srv_duplicate_records': (INFO, 'dns', 'Remove the duplicate records of {name}: one record per target and port is enough.'),
    'srv_targets_capped': (WARNING, 'dns', 'Publish at most {limit} targets in {name}: the check looks at that many, and peers '
                                           'spend a connect timeout on every dead target before the next.'),
    'addresses_capped': (WARNING, 'dns', 'Publish at most {limit} A/AAAA records for {name} (the check looks at that many), '
                                         'and remove those that do not serve federation.'),
    # the check's own bounds (_budget.py)
    'step_deadline': (WARNING, 'deadline', 'Make what {what} talks to answer within the timeout ({timeout} s), or raise '
                                           'timeout if it is slow but working: peers give up sooner than they wait.'),
    'requests_capped': (WARNING, 'connect', 'Fewer redirects and fewer addresses: one check sends at most {limit} requests.'),
    # connection per address
    'tcp_connect_failed': (ERROR, 'connect', 'Open port {port} to {ip} (firewall) and make the web server/proxy listen there, or remove '
                                             'the address from DNS.'),
    'ipv6_not_listening': (WARNING, 'connect', 'Make the server listen on {ip} port {port}, or remove the AAAA record of {name}.'),
    'tls_handshake_failed': (ERROR, 'tls', 'Make {ip}:{port} speak TLS (federation is always HTTPS).'),
    'tls_missing_intermediate': (ERROR, 'tls', 'Serve the full chain (certificate plus intermediates, e.g. fullchain.pem) on {ip}:{port}.'),
    'tls_untrusted': (ERROR, 'tls', 'Use a certificate from a CA that other servers trust (e.g. Let\'s Encrypt) on {ip}:{port}.'),
    'tls_cert_expired': (ERROR, 'tls', 'Renew the certificate on {ip}:{port} and make sure renewal runs automatically.'),
    'tls_cert_not_yet_valid': (ERROR, 'tls', 'Check the clock of the CA/host; the certificate on {ip}:{port} is not valid yet.'),
    'tls_name_mismatch': (ERROR, 'tls', 'Serve a certificate for {name} on {ip}:{port} (that is the name other servers check, not the SRV target).'),
    'tls_cert_expiring': (WARNING, 'tls', 'Renew the certificate on {ip}:{port} soon and check that automatic renewal works.'),
    'federation_port_443': (WARNING, 'connect', 'Prefer a dedicated federation port (8448) so proxy/CDN and client limits on 443 cannot '
                                                'break federation.'),
    'proxy_cloudflare': (WARNING, 'connect', 'Do not proxy federation through a CDN (Cloudflare): serve the federation port directly ("DNS only").'),
    # keys
    'keys_request_failed': (ERROR, 'keys', 'Route /_matrix/key/v2/server on {ip}:{port} to the homeserver.'),
    'backend_unavailable': (ERROR, 'keys', 'Start the homeserver (systemctl status <its service>) and check that the proxy on '
                            '{ip}:{port} forwards to its listener (proxy answered HTTP {status}).'),
    'keys_status': (ERROR, 'keys', 'Route /_matrix/key/v2/server on {ip}:{port} to the homeserver (it answered HTTP {status}).'),
    'keys_invalid_json': (ERROR, 'keys', 'Route /_matrix/key/v2/server on {ip}:{port} to the homeserver (the answer is not its JSON).'),
    'keys_content_type': (WARNING, 'keys', 'Do not rewrite the Content-Type of /_matrix responses in the proxy.'),
    'keys_server_name_mismatch': (ERROR, 'keys', 'Set server_name in the homeserver config to {expected} (or check the proxy routes '
                                                 '{ip}:{port} to the right homeserver).'),
    'keys_no_ed25519': (ERROR, 'keys', 'The homeserver publishes no ed25519 key: check its signing key file.'),
    'keys_unsigned': (ERROR, 'keys', 'The key response is not signed by {expected}: check the homeserver signing key and server_name.'),
    'keys_bad_signature': (ERROR, 'keys', 'The key response signature does not verify: the signing key file and published key '
                                          'differ, or a proxy alters the body.'),
    'keys_expired': (ERROR, 'keys', 'The homeserver serves keys whose valid_until_ts is in the past: check the host clock and '
                                    'restart the homeserver.'),
    'keys_expiring': (WARNING, 'keys', 'valid_until_ts is less than an hour away: check the host clock and the homeserver key refresh.'),
    'keys_differ': (ERROR, 'keys', 'All addresses must reach the same homeserver: fix DNS or the proxy so every address serves the same keys.'),
    # version
    'version_failed': (WARNING, 'version', 'Route /_matrix/federation/v1/version on {ip}:{port} to the homeserver.'),
    # client discovery
    'client_well_known_missing': (WARNING, 'client', 'Serve https://{host}/.well-known/matrix/client with {{"m.homeserver": {{"base_url": '
                                                     '"https://matrix.{host}"}}}} so clients find the server.'),
    'client_well_known_invalid': (WARNING, 'client', 'Serve a JSON object with m.homeserver.base_url on https://{host}/.well-known/matrix/client.'),
    'client_cors_missing': (WARNING, 'client', 'Add "Access-Control-Allow-Origin: *" to {url} so web clients can read it.'),
    'client_versions_failed': (WARNING, 'client', 'Make {url} reach the homeserver client API (base_url must point at it).'),
    # reverse-proxy behaviour (optional check group)
    'proxy_body_limit': (WARNING, 'proxy', 'Raise the request body limit for /_matrix on {ip}:{port} to at least the homeserver\'s '
                                           'upload limit (nginx client_max_body_size 50M; Caddy request_body max_size 50MB).'),
    'proxy_upload_closed': (WARNING, 'proxy', 'A large PUT /_matrix/federation/v1/send was cut off on {ip}:{port}: check the proxy body limits.'),
    'proxy_path_mangled': (WARNING, 'proxy', 'Pass the request URI to the homeserver unchanged on {ip}:{port} (nginx: proxy_pass '
                                             'without a URI part; no decoding of %2F).'),
    'proxy_nonmatrix_response': (WARNING, 'proxy', 'Route all of /_matrix/ on {ip}:{port} to the homeserver, including percent-encoded paths.'),
    'route_backend_unavailable': (WARNING, 'proxy', 'Start what serves {route} ({path}) and check the proxy on {ip}:{port} sends it '
                                                    'there: with Synapse workers, the worker pool for these paths (systemctl status '
                                                    '\'synapse-worker@*\'); with one process, the proxy route for this path.'),
    # overall
    'no_usable_address': (ERROR, 'connect', 'No address passed all checks: fix the errors above.'),
    # the verdict (_verdict.py): a peer walking the route as its implementation does
    'peer_unreachable': (ERROR, 'verdict', 'Fix what this line names first; the findings after it are the evidence and say '
                                           'how.'),
    'peer_unreachable_other': (WARNING, 'verdict', '{implementation} servers cannot federate with you (not among the '
                                                   'implementations this check enforces): fix it for them too.'),
}


class Finding(object):
    """One error, warning or note, tied to the step it belongs to."""

    def __init__(self, code, message, step=None, address=None, **fmt):
        level, default_step, fix = CODES[code]
        self.code = code
        self.level = level
        self.step = step or default_step
        self.message = message
        try:
            self.fix = fix.format(**fmt)
        except (KeyError, IndexError):
            self.fix = fix
        self.address = address

    def demote(self, note):
        """An error on a part of the route that peers skip past: a warning naming the risk."""
        self.level = WARNING
        self.message = '%s %s' % (self.message, note)

    def promote(self):
        """A warning that has become the cause (e.g. a broken well-known whose fallback fails)."""
        self.level = ERROR

    def as_dict(self):
        return {
            'code': self.code,
            'level': self.level,
            'step': self.step,
            'message': self.message,
            'fix': self.fix,
            'address': self.address,
        }

    def __repr__(self):
        return 'Finding(%s, %s, %r)' % (self.level, self.code, self.message)


def _reach_label(name, item, enforced):
    notes = [text for text, show in (('modelled', not item['measured']), ('not enforced', name not in enforced)) if show]
    return '%s %s%s' % (name, 'yes' if item['reachable'] else 'NO', ' (%s)' % ', '.join(notes) if notes else '')


def build_summary(server_name, result):
    """Short text for a person: verdict, path taken, then what to change."""
    lines = []
    verdict = 'OK' if result.get('federation_ok') else 'FAILED'
    route = result.get('route') or ''
    lines.append('Federation check for %s: %s%s' % (server_name, verdict, (' (' + route + ')') if route else ''))
    reach = result.get('reachability') or {}
    if reach:
        enforced = result.get('implementations') or []
        lines.append('Reached by: %s' % ', '.join(_reach_label(name, item, enforced) for name, item in reach.items()))
    errors = list(result.get('errors', []))
    warnings = list(result.get('warnings', []))
    seen = set()
    for label, items in (('error', errors), ('warning', warnings)):
        for item in items:
            key = (item['code'], item['fix'])
            where = (' [%s]' % item['address']) if item.get('address') else ''
            if key in seen:
                lines.append('- %s %s%s: %s' % (label, item['code'], where, item['message']))
                continue
            seen.add(key)
            lines.append('- %s %s%s: %s Fix: %s' % (label, item['code'], where, item['message'], item['fix']))
    if not errors and not warnings:
        lines.append('Nothing to change.')
    return '\n'.join(lines)
