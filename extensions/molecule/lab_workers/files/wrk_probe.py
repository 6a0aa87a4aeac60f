#!/usr/bin/env python3
"""lab_workers probes, run on the lab client against a homeserver's client API (stdlib only).

  send   --url URL --room ROOM --count N --prefix P
         the token's user sends N messages "P 0" .. "P N-1" into ROOM, one after the other.
  wait   --url URL --room ROOM --count N --prefix P --deadline S
         reads ROOM's history on URL (/messages, newest first) once a second until it holds all
         N bodies "P i" or S seconds pass; reports how long that took and whether the bodies
         stand in the order they were sent.
  reads  --url URL --room ROOM
         client reads a client reader serves (joined_rooms, the room's members and state), then a
         media upload and its download through the authenticated media API, bytes compared.

The access token is in MXFED_TOKEN. Prints one JSON object; exit 0 when "ok" is true.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ProbeError(Exception):
    pass


def call(base, method, path, token, body=None, query=None, raw=None, content_type=None, timeout=30):
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", content_type or "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ok_json(base, method, path, token, **kwargs):
    status, payload = call(base, method, path, token, **kwargs)
    if status != 200:
        raise ProbeError("%s %s answered %s: %s" % (method, path, status, payload[:300]))
    return json.loads(payload)


def room_path(room, tail):
    return "/_matrix/client/v3/rooms/%s/%s" % (urllib.parse.quote(room, safe=""), tail)


def send(args, token):
    bodies, event_ids = [], []
    for i in range(args.count):
        body = "%s %d" % (args.prefix, i)
        txn = uuid.uuid4().hex
        data = ok_json(args.url, "PUT", room_path(args.room, "send/m.room.message/" + txn), token,
                       body={"msgtype": "m.text", "body": body})
        bodies.append(body)
        event_ids.append(data["event_id"])
    return {"ok": True, "sent": len(bodies), "bodies": bodies, "event_ids": event_ids}


def history(args, token):
    """The room's m.room.message bodies on this server, oldest first (at most 1000)."""
    bodies, query = [], {"dir": "b", "limit": "200"}
    for _ in range(5):
        data = ok_json(args.url, "GET", room_path(args.room, "messages"), token, query=query)
        chunk = data.get("chunk", [])
        bodies.extend(e.get("content", {}).get("body") for e in chunk if e.get("type") == "m.room.message")
        if not chunk or not data.get("end"):
            break
        query["from"] = data["end"]
    return list(reversed(bodies))


def wait(args, token):
    expected = ["%s %d" % (args.prefix, i) for i in range(args.count)]
    start = time.monotonic()
    while True:
        have = history(args, token)
        found = [b for b in have if b in expected]
        missing = [b for b in expected if b not in found]
        elapsed = round(time.monotonic() - start, 1)
        if not missing or elapsed >= args.deadline:
            break
        time.sleep(1)
    in_order = found == expected
    return {"ok": not missing and in_order, "expected": len(expected), "found": len(set(found)),
            "missing": missing, "in_order": in_order, "order": found, "complete_after_s": None if missing else elapsed}


def reads(args, token):
    result = {}
    rooms = ok_json(args.url, "GET", "/_matrix/client/v3/joined_rooms", token)["joined_rooms"]
    if args.room not in rooms:
        raise ProbeError("joined_rooms does not list %s: %s" % (args.room, rooms))
    result["joined_rooms"] = len(rooms)
    result["members"] = len(ok_json(args.url, "GET", room_path(args.room, "members"), token)["chunk"])
    result["state_events"] = len(ok_json(args.url, "GET", room_path(args.room, "state"), token))
    content = ("mxfed lab_workers media probe %s\n" % uuid.uuid4().hex).encode()
    uploaded = ok_json(args.url, "POST", "/_matrix/media/v3/upload", token, raw=content,
                       content_type="text/plain", query={"filename": "probe.txt"})
    uri = uploaded["content_uri"]
    server, media_id = uri[len("mxc://"):].split("/", 1)
    status, payload = call(args.url, "GET", "/_matrix/client/v1/media/download/%s/%s" % (server, media_id), token)
    if status != 200 or payload != content:
        raise ProbeError("downloading %s answered %s with %d bytes (uploaded %d)" % (uri, status, len(payload), len(content)))
    result.update(ok=True, content_uri=uri, media_id=media_id, bytes=len(content))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["send", "wait", "reads"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--prefix", default="probe")
    parser.add_argument("--deadline", type=float, default=120.0)
    args = parser.parse_args()
    token = os.environ.get("MXFED_TOKEN")
    if not token:
        parser.error("MXFED_TOKEN must hold the user's access token")
    try:
        result = {"send": send, "wait": wait, "reads": reads}[args.mode](args, token)
    except (ProbeError, urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
