"""scripts/lab_summary.py: the end of `bash scripts/lab`, one line per fact, from the lab's files.

The fixture is a real federation lab report (lab-report/federation/ of a `bash scripts/lab` run,
see REAL below); the check results are trimmed of what the summary does not read (certificate
chains, DNS answers, summaries), everything else is as the lab wrote it.
"""
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "lab_summary.py"
sys.path.insert(0, str(SCRIPT.parent))
import lab_summary  # noqa: E402 pylint: disable=wrong-import-position,import-error

# REAL_BEGIN (generated from a real run's lab-report/federation/; see the module docstring)
REAL = {
    'check-alpha.test.json': {
        'addresses': [
            {
                'address': '172.30.20.11',
                'error': None,
                'family': 4,
                'host': 'matrix.alpha.test',
                'host_header': 'matrix.alpha.test:8448',
                'keys': {
                    'content_type': 'application/json',
                    'ok': True,
                    'old_verify_keys': {},
                    'server_name': 'alpha.test',
                    'signatures_valid': True,
                    'status': 200,
                    'valid_for_seconds': 85760,
                    'valid_until_ts': 1796243965556,
                    'verify_keys': {
                        'ed25519:a_LAYC': 'txT2zJdxeucYple9/VIYS06fLvx7/gDpf2WKAT3wR14',
                    },
                },
                'ok': True,
                'port': 8448,
                'server_header': 'Caddy',
                'sni': 'matrix.alpha.test',
                'tcp': 'ok',
                'tls': {
                    'cipher': 'TLS_AES_128_GCM_SHA256',
                    'verified': True,
                    'verify_code': None,
                    'verify_error': None,
                    'version': 'TLSv1.3',
                },
            },
        ],
        'changed': False,
        'checks': ['keys', 'version', 'client', 'proxy'],
        'delegated_server_name': 'matrix.alpha.test:8448',
        'elapsed': 0.1906,
        'errors': [],
        'failed': False,
        'failed_when_result': False,
        'federation_ok': True,
        'host_header': 'matrix.alpha.test:8448',
        'implementations': ['synapse', 'dendrite', 'conduit'],
        'keys': {
            'consistent': True,
            'server_name': 'alpha.test',
            'valid_until_ts': 1796243965556,
            'variants': 1,
            'verify_keys': {
                'ed25519:a_LAYC': 'txT2zJdxeucYple9/VIYS06fLvx7/gDpf2WKAT3wR14',
            },
        },
        'reachability': {
            'conduit': {
                'address': 'matrix.alpha.test:8448 (172.30.20.11)',
                'measured': False,
                'reachable': True,
                'reason': None,
            },
            'dendrite': {
                'address': 'matrix.alpha.test:8448 (172.30.20.11)',
                'measured': True,
                'reachable': True,
                'reason': None,
            },
            'synapse': {
                'address': 'matrix.alpha.test:8448 (172.30.20.11)',
                'measured': True,
                'reachable': True,
                'reason': None,
            },
        },
        'reachable_from': {
            'conduit': True,
            'dendrite': True,
            'synapse': True,
        },
        'route': (
            'step 3.2: well-known -> matrix.alpha.test:8448; connect matrix.alpha.test:8448 '
            '(172.30.20.11); Host matrix.alpha.test:8448, certificate for matrix.alpha.test'),
        'server_name': 'alpha.test',
        'sni': 'matrix.alpha.test',
        'srv': [
            {
                'deprecated': False,
                'error': None,
                'name': '_matrix-fed._tcp.alpha.test',
                'queried_for': 'server_name',
                'records': [],
                'shadowed': False,
                'status': 'nxdomain',
                'used': False,
            },
            {
                'deprecated': True,
                'error': None,
                'name': '_matrix._tcp.alpha.test',
                'queried_for': 'server_name',
                'records': [],
                'shadowed': False,
                'status': 'nxdomain',
                'used': False,
            },
        ],
        'step': '3.2',
        'targets': [
            {
                'addresses': ['172.30.20.11'],
                'host': 'matrix.alpha.test',
                'port': 8448,
                'priority': None,
                'srv': None,
                'unchecked_addresses': [],
                'weight': None,
            },
        ],
        'tls_server_name': 'matrix.alpha.test',
        'unchecked_targets': [],
        'version': {
            'name': 'Synapse',
            'status': 200,
            'version': '1.163.1',
        },
        'warning_findings': [],
        'well_known': {
            'content_type': 'application/json',
            'error': None,
            'm_server': 'matrix.alpha.test:8448',
            'redirects': [],
            'result': 'delegated',
            'seconds': 0.0289,
            'size': 37,
            'status': 200,
            'url': 'https://alpha.test/.well-known/matrix/server',
        },
    },
    'check-alpha.test.txt': (
        'Federation check for alpha.test: OK (step 3.2: well-known -> matrix.alpha.test:8448; connect '
        'matrix.alpha.test:8448 (172.30.20.11); Host matrix.alpha.test:8448, certificate for '
        'matrix.alpha.test)\nReached by: synapse yes, dendrite yes, conduit yes (modelled)\n'
        'Nothing to change.\n'),
    'check-beta.test.json': {
        'addresses': [
            {
                'address': '172.30.20.12',
                'error': None,
                'family': 4,
                'host': 'matrix.beta.test',
                'host_header': 'beta.test',
                'keys': {
                    'content_type': 'application/json',
                    'ok': True,
                    'old_verify_keys': {},
                    'server_name': 'beta.test',
                    'signatures_valid': True,
                    'status': 200,
                    'valid_for_seconds': 85605,
                    'valid_until_ts': 1796243810469,
                    'verify_keys': {
                        'ed25519:a_FKTS': '32XKmLRxtWvVDnyz9yTkwr9qu5OChuE0b/P+fSVhi2M',
                    },
                },
                'ok': True,
                'port': 8448,
                'server_header': 'Caddy',
                'sni': 'beta.test',
                'tcp': 'ok',
                'tls': {
                    'cipher': 'TLS_AES_128_GCM_SHA256',
                    'verified': True,
                    'verify_code': None,
                    'verify_error': None,
                    'version': 'TLSv1.3',
                },
            },
        ],
        'changed': False,
        'checks': ['keys', 'version', 'client', 'proxy'],
        'delegated_server_name': None,
        'elapsed': 0.1678,
        'errors': [],
        'failed': False,
        'failed_when_result': False,
        'federation_ok': True,
        'host_header': 'beta.test',
        'implementations': ['synapse', 'dendrite', 'conduit'],
        'keys': {
            'consistent': True,
            'server_name': 'beta.test',
            'valid_until_ts': 1796243810469,
            'variants': 1,
            'verify_keys': {
                'ed25519:a_FKTS': '32XKmLRxtWvVDnyz9yTkwr9qu5OChuE0b/P+fSVhi2M',
            },
        },
        'reachability': {
            'conduit': {
                'address': 'matrix.beta.test:8448 (172.30.20.12)',
                'measured': False,
                'reachable': True,
                'reason': None,
            },
            'dendrite': {
                'address': 'matrix.beta.test:8448 (172.30.20.12)',
                'measured': True,
                'reachable': True,
                'reason': None,
            },
            'synapse': {
                'address': 'matrix.beta.test:8448 (172.30.20.12)',
                'measured': True,
                'reachable': True,
                'reason': None,
            },
        },
        'reachable_from': {
            'conduit': True,
            'dendrite': True,
            'synapse': True,
        },
        'route': (
            'step 4: SRV _matrix-fed._tcp.beta.test -> matrix.beta.test:8448 (172.30.20.12); Host '
            'beta.test, certificate for beta.test'),
        'server_name': 'beta.test',
        'sni': 'beta.test',
        'srv': [
            {
                'deprecated': False,
                'error': None,
                'name': '_matrix-fed._tcp.beta.test',
                'queried_for': 'server_name',
                'records': [
                    {
                        'port': 8448,
                        'priority': 10,
                        'target': 'matrix.beta.test.',
                        'ttl': 0,
                        'weight': 5,
                    },
                ],
                'shadowed': False,
                'status': 'ok',
                'used': True,
            },
            {
                'deprecated': True,
                'error': None,
                'name': '_matrix._tcp.beta.test',
                'queried_for': 'server_name',
                'records': [],
                'shadowed': False,
                'status': 'nxdomain',
                'used': False,
            },
        ],
        'step': '4',
        'targets': [
            {
                'addresses': ['172.30.20.12'],
                'host': 'matrix.beta.test',
                'port': 8448,
                'priority': 10,
                'srv': '_matrix-fed._tcp.beta.test',
                'unchecked_addresses': [],
                'weight': 5,
            },
        ],
        'tls_server_name': 'beta.test',
        'unchecked_targets': [],
        'version': {
            'name': 'Synapse',
            'status': 200,
            'version': '1.163.2',
        },
        'warning_findings': [],
        'well_known': {
            'content_type': 'application/json',
            'error': None,
            'm_server': None,
            'redirects': [],
            'result': 'absent',
            'seconds': 0.0341,
            'size': 0,
            'status': 404,
            'url': 'https://beta.test/.well-known/matrix/server',
        },
    },
    'check-beta.test.txt': (
        'Federation check for beta.test: OK (step 4: SRV _matrix-fed._tcp.beta.test -> '
        'matrix.beta.test:8448 (172.30.20.12); Host beta.test, certificate for beta.test)\n'
        'Reached by: synapse yes, dendrite yes, conduit yes (modelled)\nNothing to change.\n'),
    'exchange-alpha-beta.json': {
        'a_to_b': {
            'count': 20,
            'max_ms': 445.5,
            'p50_ms': 175.0,
            'p95_ms': 321.7,
            'send_p50_ms': 58.7,
            'send_p95_ms': 188.9,
        },
        'a_url': 'https://matrix.alpha.test',
        'a_user': '@alice:alpha.test',
        'b_to_a': {
            'count': 20,
            'max_ms': 368.2,
            'p50_ms': 147.4,
            'p95_ms': 325.2,
            'send_p50_ms': 66.4,
            'send_p95_ms': 159.7,
        },
        'b_url': 'https://matrix.beta.test',
        'b_user': '@bob:beta.test',
        'invite_s': 0.742,
        'join_s': 0.23,
        'ok': True,
        'room_id': '!HZUbelol27Dgw8RyUDv-U1GzQUzHa_sIzCUhIKQLnVg',
    },
    'exchange-restart-after.json': {
        'a_to_b': {
            'count': 5,
            'max_ms': 202.9,
            'p50_ms': 156.9,
            'p95_ms': 202.9,
            'send_p50_ms': 26.1,
            'send_p95_ms': 30.5,
        },
        'a_url': 'https://matrix.beta.test',
        'a_user': '@bob:beta.test',
        'b_to_a': {
            'count': 5,
            'max_ms': 10720.1,
            'p50_ms': 702.0,
            'p95_ms': 10720.1,
            'send_p50_ms': 72.2,
            'send_p95_ms': 253.0,
        },
        'b_url': 'https://matrix.alpha.test',
        'b_user': '@alice:alpha.test',
        'ok': True,
        'room_id': '!_K_aOh5_IpgvOKwK6C5fbPOCf4WvNchZQ6_Oc6q8imI',
    },
    'exchange-restart-before.json': {
        'a_to_b': {
            'count': 5,
            'max_ms': 228.2,
            'p50_ms': 131.9,
            'p95_ms': 228.2,
            'send_p50_ms': 27.9,
            'send_p95_ms': 85.1,
        },
        'a_url': 'https://matrix.alpha.test',
        'a_user': '@alice:alpha.test',
        'b_to_a': {
            'count': 5,
            'max_ms': 132.8,
            'p50_ms': 98.5,
            'p95_ms': 132.8,
            'send_p50_ms': 31.3,
            'send_p95_ms': 73.5,
        },
        'b_url': 'https://matrix.beta.test',
        'b_user': '@bob:beta.test',
        'invite_s': 0.808,
        'join_s': 0.594,
        'ok': True,
        'room_id': '!_K_aOh5_IpgvOKwK6C5fbPOCf4WvNchZQ6_Oc6q8imI',
    },
    'exchange-restart-during.json': {
        'a_url': 'https://matrix.alpha.test',
        'a_user': '@alice:alpha.test',
        'b_url': 'https://matrix.beta.test',
        'ok': True,
        'room_id': '!_K_aOh5_IpgvOKwK6C5fbPOCf4WvNchZQ6_Oc6q8imI',
        'sent': 5,
    },
    'exchange-restart-history.json': {
        'a_url': 'https://matrix.alpha.test',
        'b_url': 'https://matrix.beta.test',
        'history': {
            'https://matrix.alpha.test': {
                'complete_after_s': 0.06,
                'expected': 25,
                'missing': {},
            },
            'https://matrix.beta.test': {
                'complete_after_s': 1.004,
                'expected': 25,
                'missing': {},
            },
        },
        'ok': True,
    },
    'gate.json': {
        'failed_while_stopped': True,
        'host': 'fed-alpha',
        'message': (
            'Federation check for alpha.test: FAILED (step 3.2: well-known -> matrix.alpha.test:8448; '
            'connect matrix.alpha.test:8448 (172.30.20.11); Host matrix.alpha.test:8448, certificate '
            'for matrix.alpha.test)\nReached by: synapse NO, dendrite NO, conduit NO (modelled)\n'
            '- error peer_unreachable: Synapse would not reach alpha.test: 172.30.20.11 on '
            'matrix.alpha.test:8448: GET /_matrix/key/v2/server answered HTTP 502 from the proxy '
            '(Server: Caddy): the homeserver behind it did not answer.; Synapse does not try another '
            'target after a TLS or identity failure. Fix: Fix what this line names first; the findings '
            'after it are the evidence and say how.\n'
            '- error peer_unreachable: Dendrite would not reach alpha.test: 172.30.20.11 on '
            'matrix.alpha.test:8448: GET /_matrix/key/v2/server answered HTTP 502 from the proxy '
            '(Server: Caddy): the homeserver behind it did not answer..\n'
            '- error peer_unreachable: Conduit would not reach alpha.test: 172.30.20.11 on '
            'matrix.alpha.test:8448: GET /_matrix/key/v2/server answered HTTP 502 from the proxy '
            '(Server: Caddy): the homeserver behind it did not answer.; Conduit does not try another '
            'target after a TLS or identity failure. (Conduit: modelled from the source, not '
            'measured.)\n- error backend_unavailable [172.30.20.11:8448]: GET /_matrix/key/v2/server '
            'answered HTTP 502 from the proxy (Server: Caddy): the homeserver behind it did not '
            'answer. Fix: Start the homeserver (systemctl status <its service>) and check that the '
            'proxy on 172.30.20.11:8448 forwards to its listener (proxy answered HTTP 502).\n'
            '- warning client_versions_failed: https://matrix.alpha.test/_matrix/client/versions did '
            'not answer: invalid JSON (Expecting value: line 1 column 1 (char 0)). Fix: Make '
            'https://matrix.alpha.test/_matrix/client/versions reach the homeserver client API '
            '(base_url must point at it).\n- warning version_failed [172.30.20.11:8448]: GET '
            '/_matrix/federation/v1/version answered HTTP 502 without a "server" object. Fix: Route '
            '/_matrix/federation/v1/version on 172.30.20.11:8448 to the homeserver.'),
        'passed_again': True,
        'stopped': 'synapse',
    },
    'lab.json': {
        'ca_path': '/work/main/lab-report/federation/pebble-root.pem',
        'containers': ['fed-acme', 'fed-alpha', 'fed-beta', 'fed-client', 'fed-dns'],
        'dns': '172.30.20.2',
        'scenario': 'federation',
        'server_names': ['alpha.test', 'beta.test'],
        'subnet': '172.30.20.0/24',
        'verify_command': (
            'cd /work/main && .venv/bin/ansible-playbook playbooks/verify.yml -e '
            'server_names=alpha.test,beta.test -e \'{"nameservers": ["172.30.20.2"]}\' -e '
            'ca_path=/work/main/lab-report/federation/pebble-root.pem'),
    },
    'restarts.json': {
        'expected': 25,
        'history': {
            'https://matrix.alpha.test': {
                'complete_after_s': 0.06,
                'expected': 25,
                'missing': {},
            },
            'https://matrix.beta.test': {
                'complete_after_s': 1.004,
                'expected': 25,
                'missing': {},
            },
        },
        'ok': True,
        'room_id': '!_K_aOh5_IpgvOKwK6C5fbPOCf4WvNchZQ6_Oc6q8imI',
        'sent_while_down': 5,
        'steps': [
            'synapse stopped on fed-beta',
            '5 messages sent to it meanwhile',
            'caddy and synapse restarted on fed-alpha',
            'synapse started again on fed-beta',
        ],
    },
    'signing-key.json': {
        'existed_before': True,
        'expected_versions': ['1.163.1', '1.163.2', '1.163.1'],
        'host': 'fed-alpha',
        'key_id': 'ed25519:a_LAYC',
        'path': '/etc/synapse/alpha.test.signing.key',
        'unchanged_after_upgrade': True,
        'unchanged_after_way_back': True,
        'versions': ['1.163.1', '1.163.2', '1.163.1'],
    },
    'logs/steps.tsv': 'create\t3\t0\nprepare\t3\t0\nconverge\t255\t0\nverify\t432\t0\ntotal\t693\t0\n',
    'logs/create.log': (
        'INFO     Found config file /work/main/extensions/molecule/config.yml\n'
        "INFO     Collection 'mxfed.federation' detected.\n"
        "INFO     Scenarios will be used from 'extensions/molecule'\n"
        'WARNING  [federation > config] The scenario config file '
        "('/work/main/extensions/molecule/federation/molecule.yml') has been modified since the "
        "scenario was created. If recent changes are important, reset the scenario with 'molecule "
        "destroy' to clean up created items or 'molecule reset' to clear current configuration.\n"
        "CRITICAL 'extensions/molecule/default/molecule.yml' glob failed.  Exiting.\n"
        'INFO     default scenario not found, disabling shared state.\n'
        'INFO     [federation > discovery] scenario test matrix: dependency, create, prepare\n'
        'INFO     [federation > dependency] Executing\n'
        'INFO     [federation > dependency] Executed: 2 disabled\n'
        'INFO     [federation > create] Executing\n'
        'WARNING  [federation > create] Skipping, instances already created.\n'
        'INFO     [federation > create] Executed: Skipped (Skipping, instances already created.)\n'
        'INFO     [federation > prepare] Executing\n'
        'WARNING  [federation > prepare] Skipping, instances already prepared.\n'
        'INFO     [federation > prepare] Executed: Successful\n'
        'INFO     Molecule executed 1 scenario (1 skipped)\n\n'
        'DETAILS                                                                        \n'
        'federation > dependency: Executed: 2 disabled\n'
        'federation > create: Executed: Skipped (Skipping, instances already created.)\n'
        'federation > prepare: Executed: Successful\n\n'
        'SCENARIO RECAP                                                                 \n'
        'federation                : actions=3  successful=0  disabled=2  skipped=1  missing=0  '
        'failed=0\n\n'),
    'logs/converge.log': (
        'TASK [mxfed.federation.homeserver : Fail when other servers could not find or trust '
        'alpha.test] ***\nTuesday 01 December 2026  20:49:10 +0000 (0:00:00.164)       0:04:09.087 '
        '******\nok: [fed-alpha]\nok: [fed-beta]\n\n'
        'PLAY RECAP *********************************************************************\n'
        'fed-alpha                  : ok=114  changed=0    unreachable=0    failed=0    skipped=27   '
        'rescued=0    ignored=0\nfed-beta                   : ok=130  changed=0    unreachable=0    '
        'failed=0    skipped=31   rescued=0    ignored=0\n\n\n'
        'TASKS RECAP ********************************************************************\n'
        'Tuesday 01 December 2026  20:49:11 +0000 (0:00:00.174)       0:04:09.262 ******\n'
        '===============================================================================\n'
        'mxfed.federation.synapse : Install matrix-synapse into the virtualenv at version 1.163.1 -- '
        '13.28s\nmxfed.federation.firewall : Allow the TCP ports ------------------------ 13.00s\n'
        'Gathering Facts --------------------------------------------------------- 9.90s\n'
        'mxfed.federation.caddy : Install the Caddy package ---------------------- 9.59s\n'
        'mxfed.federation.well_known : Write the documents ----------------------- 8.07s\n'
        'SCENARIO RECAP                                                                 \n'
        'federation                : actions=4  successful=1  disabled=2  skipped=1  missing=0  '
        'failed=0\n\n'),
}
# REAL_END


def write_report(directory, files):
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=4) + "\n")
    return directory


@pytest.fixture(name="report")
def fixture_report(tmp_path):
    return write_report(tmp_path / "federation", copy.deepcopy(REAL))


def run(directory):
    """The script as scripts/lab runs it: (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, str(SCRIPT), str(directory)], capture_output=True, text=True,
                          timeout=30, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def fact_rows(text):
    """[(name, status, text)] including multi-word names (signing key)."""
    result = []
    for line in text.splitlines():
        for status in ("  ok  ", "  FAIL  ", "  ??  "):
            if line.startswith("  ") and status in line:
                name, rest = line.split(status, 1)
                result.append((name.strip(), status.strip(), rest.strip()))
                break
    return result


def test_real_run(report):
    rc, out, err = run(report)
    assert (rc, err) == (0, "")
    facts = fact_rows(out)
    assert ("alpha.test", "ok", "well-known -> matrix.alpha.test:8448 -> 172.30.20.11  "
            "reachable_from synapse, dendrite, conduit") in facts
    assert ("beta.test", "ok", "SRV _matrix-fed._tcp.beta.test -> matrix.beta.test:8448 -> 172.30.20.12  "
            "reachable_from synapse, dendrite, conduit") in facts
    exchange = REAL["exchange-alpha-beta.json"]
    assert ("alpha-beta", "ok", "alice@alpha.test -> bob@beta.test: 20 messages, p50 %d ms, p95 %d ms" % (
        round(exchange["a_to_b"]["p50_ms"]), round(exchange["a_to_b"]["p95_ms"]))) in facts
    assert ("alpha-beta", "ok", "bob@beta.test -> alice@alpha.test: 20 messages, p50 %d ms, p95 %d ms" % (
        round(exchange["b_to_a"]["p50_ms"]), round(exchange["b_to_a"]["p95_ms"]))) in facts
    restarts = [text for name, status, text in facts if name == "restarts" and status == "ok"]
    assert restarts[0] == ", ".join(REAL["restarts.json"]["steps"])
    assert restarts[1].startswith("25 messages in both servers' room history (matrix.alpha.test 25/25 after ")
    assert restarts[1].endswith(", 5 sent while a server was down")
    assert ("gate", "ok", "synapse stopped on fed-alpha: the deploy gate failed (peer_unreachable, "
            "backend_unavailable), and passed once it was back") in facts
    key = REAL["signing-key.json"]["key_id"]
    assert ("signing key", "ok", "%s in fed-alpha:/etc/synapse/alpha.test.signing.key unchanged across Synapse "
            "1.163.1 -> 1.163.2 -> 1.163.1, the key alpha.test serves" % key) in facts
    assert ("converge", "ok", "changed=0 (fed-alpha 0, fed-beta 0)") in facts
    assert ("create", "ok", "the running lab's containers, reused") in facts
    assert not [f for f in facts if f[1] != "ok"]
    # the exchanges around the restarts are told once, in the restarts lines
    assert not [f for f in facts if f[0].startswith("restart-")]
    lab = REAL["lab.json"]
    assert "  verify.yml      %s\n" % lab["verify_command"] in out
    assert "docker exec -it fed-alpha bash" in out
    assert "lab DNS         172.30.20.2" in out
    assert "bash scripts/lab down" in out
    assert out.rstrip().endswith("facts proven, 0 not")


def test_second_converge_changes_are_counted(report):
    log = (report / "logs" / "converge.log").read_text()
    changed = log.replace("changed=0 ", "changed=3 ", 1)
    (report / "logs" / "converge.log").write_text(changed)
    facts = fact_rows(run(report)[1])
    assert [f for f in facts if f[0] == "converge"][0][2].startswith("changed=3 (fed-alpha 3, fed-beta 0)")


def test_converge_recap_ignores_the_tasks_recap():
    log = REAL["logs/converge.log"]
    assert lab_summary.converge_changes(log) == {"fed-alpha": (0, 0), "fed-beta": (0, 0)}


def test_failed_verdict_names_who_and_why(report):
    check = json.loads((report / "check-beta.test.json").read_text())
    check["federation_ok"] = False
    check["reachable_from"]["dendrite"] = False
    check["errors"] = [{"code": "peer_unreachable"}, {"code": "tls_untrusted"}]
    for address in check["addresses"]:
        address["ok"] = False
    (report / "check-beta.test.json").write_text(json.dumps(check))
    rc, out = run(report)[:2]
    assert rc == 1
    line = [f for f in fact_rows(out) if f[0] == "beta.test"][0]
    assert line[1] == "FAIL"
    assert "matrix.beta.test:8448 -> no working address" in line[2]
    assert "reachable_from synapse, conduit; NOT from dendrite" in line[2]
    assert line[2].endswith("errors: peer_unreachable, tls_untrusted")


def test_failed_step_is_named_and_later_facts_missing(tmp_path):
    files = {k: v for k, v in REAL.items() if k.startswith("logs/")}
    files["logs/steps.tsv"] = "create\t2\t0\nprepare\t2\t0\nconverge\t98\t2\ntotal\t110\t2\n"
    rc, out, err = run(write_report(tmp_path / "federation", files))
    assert (rc, err) == (1, "")
    facts = fact_rows(out)
    assert ("run", "FAIL", "molecule converge failed (exit 2): see logs/converge.log") in facts
    assert ("lab", "??", "lab.json: missing") in facts
    assert ("signing key", "??", "signing-key.json: missing") in facts


def test_no_report_directory(tmp_path):
    rc, out, err = run(tmp_path / "nothing")
    assert (rc, err) == (1, "")
    assert "no report directory" in out


# The exchanges around the restarts are told from restarts.json, not from their own files.
FILES = sorted(name for name in REAL if (name.endswith(".json") and not name.startswith("exchange-restart-"))
               or name == "logs/steps.tsv")


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("content, says", [
    (None, "missing"),
    ("{\"truncated\": ", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, found list"),
    ("\xff\xfe", None),
])
def test_missing_or_malformed_file_is_one_clear_line(report, name, content, says):
    path = report / name
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content.encode("latin-1"))
    rc, out, err = run(report)
    assert err == "" and "Traceback" not in out
    assert rc == 1
    bad = [f for f in fact_rows(out) if f[1] != "ok"]
    assert bad, out
    if name == "exchange-alpha-beta.json" and content is None:
        # which exchanges a scenario runs is its own business: the summary says none was found
        assert ("exchange", "??", "no exchange-<label>.json with messages both ways") in bad
    elif says and name.endswith(".json") and not name.startswith("exchange-restart-"):
        assert any(says in f[2] and name in f[2] for f in bad), out


def paths(value, prefix=()):
    """Every (path) into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, prefix + (index,))


def replaced(value, path, new):
    if not path:
        return new
    value = copy.deepcopy(value)
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return value


@pytest.mark.parametrize("name", sorted(n for n in REAL if n.endswith(".json")))
def test_any_value_of_the_wrong_type_gives_a_line_not_a_traceback(tmp_path, name):
    """Every value of every file, replaced in turn by null, a string, a list, a number and an object."""
    base = write_report(tmp_path / "federation", copy.deepcopy(REAL))
    for path in paths(REAL[name]):
        for new in (None, "x", [1], 7, {"k": 1}):
            (base / name).write_text(json.dumps(replaced(REAL[name], path, new)))
            text = lab_summary.render(str(base))[0]
            assert "facts proven" in text.splitlines()[-1], (path, new)
