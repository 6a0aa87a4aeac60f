#!/usr/bin/env python3
"""The shared federation probe (matrix_exchange.py, next to this file) with Conduit on one side.

Conduit has no shared-secret registration API; it registers users through the client API's
user-interactive auth with a registration token (m.login.registration_token). With
MXFED_B_REGISTRATION=token (or MXFED_A_REGISTRATION=token) the secret of that side
(MXFED_SECRET_B / MXFED_SECRET_A) is Conduit's registration_token; everything else, the
conversation and the JSON it prints, is the shared probe unchanged.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matrix_exchange as mx  # noqa: E402  (the shared probe, copied next to this file)

_shared_register = mx.Client.register_or_login


def register_with_token(self, user, password, token):
    """Register through UIAA with a registration token, or log in if the user exists."""
    body = {
        "username": user,
        "password": password,
        "inhibit_login": False,
        "initial_device_display_name": "mxfed lab probe",
    }
    status, data = self.request("POST", "/_matrix/client/v3/register", body)
    if status == 401 and "session" in data:
        flows = [f.get("stages", []) for f in data.get("flows", [])]
        if ["m.login.registration_token"] not in flows:
            raise mx.ExchangeError(
                "%s offers no registration-token flow: %s" % (self.base, flows)
            )
        body["auth"] = {
            "type": "m.login.registration_token",
            "token": token,
            "session": data["session"],
        }
        status, data = self.request("POST", "/_matrix/client/v3/register", body)
    if status == 200 and "access_token" in data:
        self.token, self.user_id = data["access_token"], data["user_id"]
        return
    if data.get("errcode") != "M_USER_IN_USE":
        raise mx.ExchangeError(
            "registering %s on %s with a token failed: %s %s"
            % (user, self.base, status, data)
        )
    data = self.ok(
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        },
    )
    self.token, self.user_id = data["access_token"], data["user_id"]


def main():
    token_sides = {
        side
        for side in ("A", "B")
        if os.environ.get("MXFED_%s_REGISTRATION" % side) == "token"
    }
    secrets = {os.environ.get("MXFED_SECRET_%s" % side) for side in token_sides}

    def register_or_login(self, user, password, secret):
        if secret in secrets:
            return register_with_token(self, user, password, secret)
        return _shared_register(self, user, password, secret)

    mx.Client.register_or_login = register_or_login
    return mx.main()


if __name__ == "__main__":
    sys.exit(main())
