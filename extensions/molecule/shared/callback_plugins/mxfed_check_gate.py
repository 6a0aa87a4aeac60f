# Copyright: mxfed.federation contributors
# Apache License 2.0 (see galaxy.yml)
"""Lab harness only: make a check-mode run fail when it reports changes.

Molecule's ``check`` step runs converge.yml with ``--check`` but only fails on errors.
On a converged lab a check run must also report zero changes, otherwise the roles are
not idempotent in check mode (or lie about what they would do). This callback lists
every task that reported a change and ends ansible-playbook with exit code 3.
It is inert outside check mode.
"""

from __future__ import annotations

import sys

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: mxfed_check_gate
type: aggregate
short_description: fail a check-mode run that reports changes (mxfed lab harness)
description:
  - In check mode, collect every task result that reported a change and, at the end of the
    run, print them and exit with code 3. Does nothing outside check mode.
requirements:
  - enable in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    """Fail a check-mode run with changes."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mxfed_check_gate"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._changed = []

    def _active(self):
        return bool(context.CLIARGS.get("check"))

    def v2_runner_on_ok(self, result):
        if self._active() and result.is_changed():
            self._changed.append(f"{result.host.get_name()}: {result.task_name}")

    def v2_playbook_on_stats(self, stats):
        if not self._active() or not self._changed:
            return
        self._display.error(
            "check mode after converge must report no changes; these tasks would change:\n  "
            + "\n  ".join(self._changed)
        )
        sys.exit(3)
