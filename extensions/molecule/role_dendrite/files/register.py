#!/usr/bin/env python3
# Test helper: shared-secret registration (/_synapse/admin/v1/register) and a password login.
import hmac, hashlib, json, sys, urllib.request
base = "http://127.0.0.1:8008"
secret = open("/etc/dendrite/registration_shared_secret").read().strip()
user, pw = sys.argv[1], sys.argv[2]
nonce = json.load(urllib.request.urlopen(base + "/_synapse/admin/v1/register"))["nonce"]
mac = hmac.new(secret.encode(), b"\x00".join([nonce.encode(), user.encode(), pw.encode(), b"notadmin"]), hashlib.sha1).hexdigest()
req = urllib.request.Request(base + "/_synapse/admin/v1/register", data=json.dumps(
    {"nonce": nonce, "username": user, "password": pw, "admin": False, "mac": mac}).encode(),
    headers={"Content-Type": "application/json"})
r = json.load(urllib.request.urlopen(req))
print("registered", r["user_id"])
login = urllib.request.Request(base + "/_matrix/client/v3/login", data=json.dumps(
    {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": pw}).encode(),
    headers={"Content-Type": "application/json"})
print("login ok", json.load(urllib.request.urlopen(login))["user_id"])
