#!/usr/bin/env python3
"""A real conversation between two Matrix homeservers, over federation, through their public URLs.

Two modes, stdlib only:
  --register URL USER   run ON a homeserver host: create USER through the admin shared-secret
                        registration API on the loopback listener URL (the admin API is not
                        exposed through Caddy), or log in if USER exists; the secret is read from
                        --secret-file on that host. With --token-file instead: the client API's
                        registration with that registration token (Conduit). Prints
                        {"user_id", "access_token"}.
  (default)             run in a lab container: with the access tokens of both users (environment
                        MXFED_TOKEN_A, MXFED_TOKEN_B, never argv), the first user creates a room and
                        invites the second, the second joins over federation, then messages go
                        both ways; every message must be read back on the other server. Prints one
                        JSON document with the timings; exits non-zero with a readable reason when
                        anything does not arrive.
  --room ROOM_ID        continue a conversation in a room both users already joined.
  --send-only           with --room: the first user sends --messages messages and does not wait
                        for them (the other server may be down: they must arrive later).
  --log FILE            append every message sent to FILE (JSON lines: room_id, sender, body).
  --check-log FILE      read back each room's history on both servers (/messages) until every
                        message in FILE is there, or --deadline passes; names what is missing.
  --burst N             after the exchange, each user in turn sends N more messages as fast as
                        --concurrency parallel clients can (one connection each), while the other
                        server's user syncs; times until the last one is read there (throughput,
                        for benchmarks/federation_throughput.yml).
"""

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import socket
import ssl
import statistics
import sys
import time
import urllib.parse
import threading
import uuid


class ExchangeError(Exception):
    pass


class Client:
    """A Matrix client on one keep-alive HTTPS connection, as real clients use them: latencies
    then measure the homeservers and federation, not a TLS handshake per request."""

    def __init__(self, base_url, timeout):
        self.base = base_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path
        self.timeout = timeout
        self.token = None
        self.user_id = None
        self.conn = None

    def _connection(self, timeout):
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            kwargs = {"context": ssl.create_default_context()} if self.scheme == "https" else {}
            self.conn = cls(self.netloc, timeout=timeout, **kwargs)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        return self.conn

    def request(self, method, path, body=None, query=None, timeout=None):
        target = self.prefix + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        for attempt in (1, 2):
            conn = self._connection(timeout or self.timeout)
            try:
                conn.request(method, target, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self.conn = None
                # A kept-alive connection the server closed meanwhile: retry once on a new one.
                if attempt == 2 or isinstance(exc, (socket.timeout, ssl.SSLCertVerificationError)):
                    raise ExchangeError("%s %s%s: %s" % (method, self.base, path, exc)) from exc
        try:
            return resp.status, json.loads(raw or b"{}")
        except ValueError:
            return resp.status, {"raw": raw[:200].decode(errors="replace")}

    def ok(self, method, path, body=None, query=None, timeout=None):
        status, data = self.request(method, path, body, query, timeout)
        if status != 200:
            raise ExchangeError("%s %s%s answered %s: %s" % (method, self.base, path, status, data))
        return data

    def use_token(self, token):
        self.token = token
        self.user_id = self.ok("GET", "/_matrix/client/v3/account/whoami")["user_id"]

    def register_or_login(self, user, password, secret, method="shared_secret"):
        if method == "token":
            data = self.register_with_token(user, password, secret)
        else:
            data = self.register_with_shared_secret(user, password, secret)
        if data is None:
            data = self.ok("POST", "/_matrix/client/v3/login", {
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                "password": password})
        self.token, self.user_id = data["access_token"], data["user_id"]

    def register_with_token(self, user, password, token):
        """The client API's registration with a registration token (user-interactive auth, stage
        m.login.registration_token), as Conduit offers it. None when the user exists already."""
        body = {"username": user, "password": password, "inhibit_login": False,
                "initial_device_display_name": "mxfed lab probe"}
        status, data = self.request("POST", "/_matrix/client/v3/register", body)
        if status == 401 and "session" in data:
            flows = [flow.get("stages", []) for flow in data.get("flows", [])]
            if ["m.login.registration_token"] not in flows:
                raise ExchangeError("%s offers no registration-token flow: %s" % (self.base, flows))
            body["auth"] = {"type": "m.login.registration_token", "token": token, "session": data["session"]}
            status, data = self.request("POST", "/_matrix/client/v3/register", body)
        if status == 200 and "access_token" in data:
            return data
        if data.get("errcode") != "M_USER_IN_USE":
            raise ExchangeError("registering %s on %s with a token failed: %s %s" % (user, self.base, status, data))
        return None

    def register_with_shared_secret(self, user, password, secret):
        """The admin API's shared-secret registration (Synapse, Dendrite). None when the user
        exists already."""
        status, data = self.request("GET", "/_synapse/admin/v1/register")
        if status != 200 or "nonce" not in data:
            raise ExchangeError("shared-secret registration unavailable on %s: %s %s" % (self.base, status, data))
        nonce = data["nonce"]
        mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, user, password, "notadmin"):
            mac.update(part.encode())
            if part != "notadmin":
                mac.update(b"\x00")
        status, data = self.request("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": user, "password": password, "admin": False,
            "mac": mac.hexdigest()})
        if status == 200:
            return data
        if data.get("errcode") != "M_USER_IN_USE":
            raise ExchangeError("registering %s on %s failed: %s %s" % (user, self.base, status, data))
        return None

    def sync_since(self, since, timeout_ms=10000, sync_filter=None):
        query = {"timeout": str(timeout_ms)}
        if since:
            query["since"] = since
        if sync_filter:
            query["filter"] = json.dumps(sync_filter, separators=(",", ":"))
        return self.ok("GET", "/_matrix/client/v3/sync", query=query, timeout=timeout_ms / 1000 + 30)


def room_filter(room_id):
    """The sync filter of a client showing one conversation: that room's timeline, members
    lazy-loaded, no presence or account data (what a real client asks for, not a full sync)."""
    return {"room": {"rooms": [room_id], "state": {"lazy_load_members": True},
                     "ephemeral": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}},
            "presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}}


def wait_for(client, since, predicate, deadline_s, what, sync_filter=None):
    """Long-poll /sync until predicate(sync_response) is true; return (value, next_batch)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        data = client.sync_since(since, timeout_ms=int(max(1, min(10, end - time.monotonic())) * 1000),
                                 sync_filter=sync_filter)
        since = data.get("next_batch", since)
        value = predicate(data)
        if value:
            return value, since
    raise ExchangeError("timed out after %ss waiting for %s" % (deadline_s, what))


def timeline_bodies(room_id):
    def pick(data):
        room = data.get("rooms", {}).get("join", {}).get(room_id, {})
        return [e.get("content", {}).get("body") for e in room.get("timeline", {}).get("events", [])
                if e.get("type") == "m.room.message"] or None
    return pick


def room_history(client, room_id, page=200):
    """Every m.room.message body in the room's history as this server has it, newest first."""
    bodies, query = [], {"dir": "b", "limit": str(page)}
    path = "/_matrix/client/v3/rooms/%s/messages" % urllib.parse.quote(room_id)
    while True:
        data = client.ok("GET", path, query=query)
        chunk = data.get("chunk", [])
        bodies.extend(e.get("content", {}).get("body") for e in chunk if e.get("type") == "m.room.message")
        if not chunk or not data.get("end") or data.get("end") == query.get("from"):
            return bodies
        query["from"] = data["end"]


def read_log(path):
    entries = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                entries.append(json.loads(line))
    return entries


def append_log(path, room_id, sender, bodies):
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for body in bodies:
            handle.write(json.dumps({"room_id": room_id, "sender": sender, "body": body}) + "\n")


def check_log(clients, entries, deadline_s):
    """Wait until each client's server has every logged body in its room history."""
    expected = {}
    for entry in entries:
        expected.setdefault(entry["room_id"], []).append(entry["body"])
    report, start = {}, time.monotonic()
    for client in clients:
        missing = {}
        end = start + deadline_s
        while True:
            missing = {}
            for room_id, bodies in expected.items():
                have = set(room_history(client, room_id))
                lost = [b for b in bodies if b not in have]
                if lost:
                    missing[room_id] = lost
            if not missing or time.monotonic() >= end:
                break
            time.sleep(1)
        report[client.base] = {"expected": len(entries), "missing": missing,
                               "complete_after_s": None if missing else round(time.monotonic() - start, 3)}
    return report


def percentile(values, pct):
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def send(sender, room_id, body):
    sender.ok("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (
        urllib.parse.quote(room_id), uuid.uuid4().hex), {"msgtype": "m.text", "body": body})


def send_and_receive(sender, receiver, receiver_since, room_id, count, label, deadline_s, log=None):
    """Send count messages one after another; each must be read back on the receiver's server.
    Returns ([(latency, send_time)], since): latency from the send request to the message seen on
    the other server, send_time the sender's own PUT (persisting it on its server)."""
    latencies, since = [], receiver_since
    for i in range(count):
        body = "%s %d %s" % (label, i, uuid.uuid4().hex[:8])
        start = time.monotonic()
        send(sender, room_id, body)
        sent = time.monotonic() - start
        append_log(log, room_id, sender.user_id, [body])
        seen = []

        def arrived(data, body=body, seen=seen):
            seen.extend(timeline_bodies(room_id)(data) or [])
            return body in seen

        _, since = wait_for(receiver, since, arrived, deadline_s, "message %r on %s" % (body, receiver.base),
                            sync_filter=room_filter(room_id))
        latencies.append((time.monotonic() - start, sent))
    return latencies, since


def burst(sender, receiver, receiver_since, room_id, count, concurrency, label, deadline_s):
    """Send count messages from concurrency clients at once (each its own keep-alive connection,
    messages i, i+concurrency, ... in order); the receiver long-polls /sync meanwhile. Returns
    (stats, since): sent_s when the last PUT returned, received_s when the last message was read
    on the receiver's server, both from the first PUT."""
    bodies = ["%s burst %d %s" % (label, i, uuid.uuid4().hex[:8]) for i in range(count)]
    senders = []
    for _ in range(concurrency):
        client = Client(sender.base, sender.timeout)
        client.token, client.user_id = sender.token, sender.user_id
        senders.append(client)
    errors, done = [], {}

    def talk(client, mine):
        try:
            for body in mine:
                send(client, room_id, body)
        except ExchangeError as exc:
            errors.append(str(exc))

    start = time.monotonic()
    threads = [threading.Thread(target=talk, args=(client, bodies[i::concurrency]), daemon=True)
               for i, client in enumerate(senders)]
    for thread in threads:
        thread.start()
    pending = set(bodies)

    def all_arrived(data):
        pending.difference_update(timeline_bodies(room_id)(data) or [])
        if not any(t.is_alive() for t in threads) and "sent_s" not in done:
            done["sent_s"] = time.monotonic() - start
        if errors:
            raise ExchangeError("sending the burst failed: %s" % errors[0])
        return not pending

    try:
        _, since = wait_for(receiver, receiver_since, all_arrived, deadline_s,
                            "%d burst messages on %s" % (count, receiver.base), sync_filter=room_filter(room_id))
    except ExchangeError as exc:
        raise ExchangeError("%s (%d of them never read there)" % (exc, len(pending))) from exc
    received = time.monotonic() - start
    for thread in threads:
        thread.join()
    sent = done.get("sent_s", received)
    return {"count": count, "concurrency": concurrency, "sent_s": round(sent, 3),
            "received_s": round(received, 3), "per_s": round(count / received, 1)}, since


def create_and_join(a, b, a_since, b_since, args, result):
    """A creates a room and invites B; B joins over federation; A sees the join.
    Records invite_s and join_s in result; returns (room_id, a_since, b_since)."""
    start = time.monotonic()
    create = {"preset": "private_chat", "invite": [b.user_id], "name": "mxfed lab %s" % uuid.uuid4().hex[:6]}
    if args.room_version:
        create["room_version"] = args.room_version
    room_id = a.ok("POST", "/_matrix/client/v3/createRoom", create)["room_id"]
    result["room_id"] = room_id

    def invited(data):
        return room_id in data.get("rooms", {}).get("invite", {})

    _, b_since = wait_for(b, b_since, invited, args.deadline, "the invite on %s" % b.base)
    result["invite_s"] = round(time.monotonic() - start, 3)

    start = time.monotonic()
    b.ok("POST", "/_matrix/client/v3/join/%s" % urllib.parse.quote(room_id), {})
    result["join_s"] = round(time.monotonic() - start, 3)

    def b_joined(data):
        room = data.get("rooms", {}).get("join", {}).get(room_id, {})
        for event in room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", []):
            if (event.get("type") == "m.room.member" and event.get("state_key") == b.user_id
                    and event.get("content", {}).get("membership") == "join"):
                return True
        return False

    _, a_since = wait_for(a, a_since, b_joined, args.deadline, "the join seen on %s" % a.base)
    return room_id, a_since, b_since


def register(args):
    secret_file = args.secret_file or args.token_file
    method = "shared_secret" if args.secret_file else "token"
    with open(secret_file, encoding="utf-8") as handle:
        secret = handle.read().strip()
    url, user = args.register
    client = Client(url, args.timeout)
    # The password only lets a re-run log in again; it is derived from the host's secret.
    password = "mxfed-lab-" + hashlib.sha256(("password:" + secret).encode()).hexdigest()[:24]
    # The token of an earlier run is kept on this host (root only) and reused while the server
    # accepts it: every run logging in again would hit the homeserver's login rate limit
    # (Synapse: 5 logins per account in a burst) in a lab that runs many conversations.
    cache = os.path.join(os.path.expanduser("~"), ".cache", "mxfed-lab",
                         "%s@%s.token" % (user, urllib.parse.urlsplit(url).netloc.replace(":", "_")))
    try:
        if not reuse_token(client, cache):
            client.register_or_login(user, password, secret, method)
            os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
            fd = os.open(cache, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(client.token)
    except ExchangeError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    print(json.dumps({"ok": True, "user_id": client.user_id, "access_token": client.token}))
    return 0


def reuse_token(client, cache):
    """Use the cached access token if the server still knows it; False when there is none."""
    try:
        with open(cache, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError:
        return False
    if not token:
        return False
    client.token = token
    status, data = client.request("GET", "/_matrix/client/v3/account/whoami")
    if status == 200 and data.get("user_id"):
        client.user_id = data["user_id"]
        return True
    client.token = None
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--register", nargs=2, metavar=("URL", "USER"),
                        help="register USER on the homeserver at URL (its loopback listener)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--secret-file", help="with --register: file holding the registration shared secret")
    secret.add_argument("--token-file", help="with --register: file holding a registration token (client API)")
    parser.add_argument("--a-url", help="client base URL of server A (room creator)")
    parser.add_argument("--b-url", help="client base URL of server B (invited)")
    parser.add_argument("--messages", type=int, default=3, help="messages each way")
    parser.add_argument("--room-version", help="room version to create (default: server A's default)")
    parser.add_argument("--room", help="continue in this room (both users joined) instead of creating one")
    parser.add_argument("--send-only", action="store_true",
                        help="with --room: server A's user sends --messages messages without waiting")
    parser.add_argument("--log", help="append every message sent to this file (JSON lines)")
    parser.add_argument("--check-log", metavar="FILE",
                        help="wait until both servers' room history holds every message logged in FILE")
    parser.add_argument("--burst", type=int, default=0, metavar="N",
                        help="after the exchange, N messages each way as fast as --concurrency clients send")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel senders of --burst")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds to wait for each event")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout")
    args = parser.parse_args()
    if args.register:
        if not (args.secret_file or args.token_file):
            parser.error("--register needs --secret-file or --token-file")
        return register(args)
    if not args.a_url or not args.b_url:
        parser.error("--a-url and --b-url are required")
    token_a, token_b = os.environ.get("MXFED_TOKEN_A"), os.environ.get("MXFED_TOKEN_B")
    if not token_a or not (token_b or args.send_only):
        parser.error("MXFED_TOKEN_A and MXFED_TOKEN_B must hold the two users' access tokens")

    if args.send_only and not args.room:
        parser.error("--send-only needs --room")
    if args.burst < 0 or args.concurrency < 1:
        parser.error("--burst must be 0 or more and --concurrency 1 or more")

    a, b = Client(args.a_url, args.timeout), Client(args.b_url, args.timeout)
    result = {"a_url": a.base, "b_url": b.base}
    try:
        if args.send_only:
            send_only(a, args, result)
        elif args.check_log:
            history(a, b, args, result)
        else:
            exchange(a, b, args, result)
    except ExchangeError as exc:
        result.update(ok=False, error=str(exc))
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result["ok"] else 1


def send_only(a, args, result):
    """A's user talks while the other server may be down: only A is contacted."""
    a.use_token(os.environ["MXFED_TOKEN_A"])
    result["a_user"] = a.user_id
    for i in range(args.messages):
        body = "a-only %d %s" % (i, uuid.uuid4().hex[:8])
        send(a, args.room, body)
        append_log(args.log, args.room, a.user_id, [body])
    result.update(ok=True, room_id=args.room, sent=args.messages)


def history(a, b, args, result):
    a.use_token(os.environ["MXFED_TOKEN_A"])
    b.use_token(os.environ["MXFED_TOKEN_B"])
    entries = read_log(args.check_log)
    if not entries:
        raise ExchangeError("%s lists no messages to look for" % args.check_log)
    result["history"] = check_log([a, b], entries, args.deadline)
    missing = {url: r["missing"] for url, r in result["history"].items() if r["missing"]}
    result["ok"] = not missing
    if missing:
        result["error"] = "messages missing from a server's room history after %ss: %s" % (
            args.deadline, json.dumps(missing))


def exchange(a, b, args, result):
    a.use_token(os.environ["MXFED_TOKEN_A"])
    b.use_token(os.environ["MXFED_TOKEN_B"])
    result.update(a_user=a.user_id, b_user=b.user_id)
    b_since = b.sync_since(None, timeout_ms=0).get("next_batch")
    a_since = a.sync_since(None, timeout_ms=0).get("next_batch")
    if args.room:
        room_id = result["room_id"] = args.room
    else:
        room_id, a_since, b_since = create_and_join(a, b, a_since, b_since, args, result)

    a_to_b, b_since = send_and_receive(a, b, b_since, room_id, args.messages, "a->b", args.deadline, args.log)
    b_to_a, a_since = send_and_receive(b, a, a_since, room_id, args.messages, "b->a", args.deadline, args.log)
    for name, pairs in (("a_to_b", a_to_b), ("b_to_a", b_to_a)):
        values, sends = [p[0] for p in pairs], [p[1] for p in pairs]
        result[name] = {
            "count": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            # The sender's PUT alone: what of the latency its own server spends before federation.
            "send_p50_ms": round(statistics.median(sends) * 1000, 1),
            "send_p95_ms": round(percentile(sends, 95) * 1000, 1),
        }
    if args.burst:
        # The deadline covers the whole burst: at least --deadline, and a second per 10 messages.
        deadline = max(args.deadline, args.burst / 10.0)
        result["a_to_b_burst"], b_since = burst(a, b, b_since, room_id, args.burst, args.concurrency,
                                                "a->b", deadline)
        result["b_to_a_burst"], a_since = burst(b, a, a_since, room_id, args.burst, args.concurrency,
                                                "b->a", deadline)
    result["ok"] = True


if __name__ == "__main__":
    sys.exit(main())
