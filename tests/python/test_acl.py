"""ACL users through redis-py, against ringcache and redis-server alike:
a user per service limited to its keys and commands, authenticated by
redis-py's HELLO AUTH, refused with NoPermissionError, logged in ACL LOG,
described by ACL GETUSER."""

import uuid

import pytest
import redis


def test_a_user_per_service(connect):
    admin = connect()
    name = f"svc-{uuid.uuid4().hex[:8]}"
    admin.acl_setuser(
        name,
        enabled=True,
        passwords=["+pw"],
        keys=["svc:*"],
        commands=["+get", "+set", "+ping"],
    )
    try:
        svc = connect(username=name, password="pw")
        assert svc.ping()
        svc.set("svc:1", "v")
        assert svc.get("svc:1") == "v"
        with pytest.raises(redis.exceptions.NoPermissionError):
            svc.get("other")
        with pytest.raises(redis.exceptions.NoPermissionError):
            svc.delete("svc:1")
        entries = [e for e in admin.acl_log(count=20) if e["username"] == name]
        refused = {(e["reason"], e["object"]) for e in entries}
        # (redis-py's CLIENT SETINFO on connect may be refused and logged
        # too, where the server has it.)
        assert {("key", "other"), ("command", "del")} <= refused, entries
        user = admin.acl_getuser(name)
        assert "on" in user["flags"]
        assert len(user["passwords"]) == 1
        assert name in admin.acl_users()
        with pytest.raises(redis.exceptions.AuthenticationError):
            connect(username=name, password="wrong").ping()
    finally:
        assert admin.acl_deluser(name) == 1
