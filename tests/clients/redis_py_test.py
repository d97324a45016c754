#!/usr/bin/python3
"""kvs through a real Redis client: Debian's python3-redis (redis-py), with its defaults.

The server is at KVS_TEST_ADDR (host:port). It must be empty at the start and nobody else
may use it meanwhile (each test deletes the keys it made, in the databases it used).
KVS_TEST_PASSWORD, when set, is the server's password: only PasswordTest runs against such
a server (run_against_kvs.py starts one), and without it PasswordTest skips.

Plain unittest (no pytest):
    KVS_TEST_ADDR=127.0.0.1:6379 python3 tests/clients/redis_py_test.py -v
Everything here passes against Debian's redis-server 7.0.15 with and without requirepass
(run_against_kvs.py --redis-server /usr/bin/redis-server runs both).
"""

import inspect
import os
import threading
import time
import unittest

import redis

ADDR = os.environ.get("KVS_TEST_ADDR", "")
PASSWORD = os.environ.get("KVS_TEST_PASSWORD")


def address():
    host, _, port = ADDR.rpartition(":")
    if not host or not port.isdigit():
        raise unittest.SkipTest(f"KVS_TEST_ADDR={ADDR!r} is not host:port")
    return host, int(port)


def client(**kwargs):
    """A client with redis-py's defaults, bar what the test asks for."""
    host, port = address()
    return redis.Redis(host=host, port=port, **kwargs)


class ClientTestCase(unittest.TestCase):
    """A client on database 0 (and the password, on a server that has one); the keys a test
    made are deleted after it, in every database it used."""

    def setUp(self):
        if PASSWORD is not None and not isinstance(self, PasswordTest):
            self.skipTest("the server has a password: only PasswordTest runs against it")
        self.r = client(password=PASSWORD)
        self.dbs = {0: self.r}

    def db(self, n):
        if n not in self.dbs:
            self.dbs[n] = client(db=n, password=PASSWORD)
        return self.dbs[n]

    def tearDown(self):
        for c in self.dbs.values():
            for key in getattr(self, "keys", []):
                c.delete(key)
            c.close()


class BasicsTest(ClientTestCase):
    keys = ["k", "bin\x00\r\nkey", "", "big", "missing"]

    def test_ping_and_echo(self):
        self.assertTrue(self.r.ping())
        self.assertEqual(self.r.echo("hello"), b"hello")
        self.assertEqual(self.r.echo(""), b"")
        self.assertEqual(self.r.echo(b"\x00\r\n\xff"), b"\x00\r\n\xff")

    def test_set_and_get(self):
        self.assertIsNone(self.r.get("missing"))
        self.assertTrue(self.r.set("k", "v"))
        self.assertEqual(self.r.get("k"), b"v")
        self.assertTrue(self.r.set("k", 42))
        self.assertEqual(self.r.get("k"), b"42")
        self.assertEqual(self.r.exists("k", "missing", "k"), 2)
        self.assertEqual(self.r.delete("k", "missing"), 1)
        self.assertIsNone(self.r.get("k"))

    def test_binary_empty_and_large(self):
        self.assertTrue(self.r.set("bin\x00\r\nkey", b"\x00\xff\r\n"))
        self.assertEqual(self.r.get("bin\x00\r\nkey"), b"\x00\xff\r\n")
        self.assertTrue(self.r.set("", "empty key"))
        self.assertEqual(self.r.get(""), b"empty key")
        big = bytes(range(256)) * 8192  # 2 MiB
        self.assertTrue(self.r.set("big", big))
        self.assertEqual(self.r.get("big"), big)

    def test_set_options(self):
        self.assertIsNone(self.r.set("k", "1", xx=True))
        self.assertTrue(self.r.set("k", "1", nx=True))
        self.assertIsNone(self.r.set("k", "2", nx=True))
        self.assertTrue(self.r.set("k", "3", xx=True))
        self.assertEqual(self.r.set("k", "4", get=True), b"3")
        self.assertEqual(self.r.get("k"), b"4")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.set("k", "5", nx=True, xx=True)
        self.assertEqual(str(e.exception), "syntax error")

    def test_decode_responses(self):
        r = client(password=PASSWORD, decode_responses=True)
        try:
            r.set("k", "héllo")
            self.assertEqual(r.get("k"), "héllo")
        finally:
            r.close()


class StringsTest(ClientTestCase):
    keys = ["n", "f", "s", "a", "b", "c", "d", "e", "missing"]

    def test_counters(self):
        self.assertEqual(self.r.incr("n"), 1)
        self.assertEqual(self.r.incr("n", 10), 11)
        self.assertEqual(self.r.incrby("n", 5), 16)
        self.assertEqual(self.r.decr("n"), 15)
        self.assertEqual(self.r.decrby("n", 20), -5)
        self.assertEqual(self.r.get("n"), b"-5")
        self.assertEqual(self.r.incrbyfloat("f", 10.5), 10.5)
        self.assertEqual(self.r.incrbyfloat("f", 0.1), 10.6)
        self.assertEqual(self.r.get("f"), b"10.6")
        self.assertEqual(self.r.incrbyfloat("f", -0.6), 10.0)
        self.assertEqual(self.r.get("f"), b"10")

    def test_counter_errors(self):
        self.r.set("s", "abc")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.incr("s")
        self.assertEqual(str(e.exception), "value is not an integer or out of range")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.incrbyfloat("s", 1)
        self.assertEqual(str(e.exception), "value is not a valid float")
        self.r.set("n", 2**63 - 1)
        with self.assertRaises(redis.ResponseError) as e:
            self.r.incr("n")
        self.assertEqual(str(e.exception), "increment or decrement would overflow")

    def test_mget_mset_msetnx(self):
        self.assertTrue(self.r.mset({"a": "1", "b": "2"}))
        self.assertEqual(self.r.mget("a", "missing", "b"), [b"1", None, b"2"])
        self.assertEqual(self.r.mget(["a", "b"]), [b"1", b"2"])
        self.assertFalse(self.r.msetnx({"b": "x", "c": "3"}))
        self.assertIsNone(self.r.get("c"))
        self.assertTrue(self.r.msetnx({"c": "3", "d": "4"}))
        self.assertEqual(self.r.mget("a", "b", "c", "d"), [b"1", b"2", b"3", b"4"])

    def test_getset_getdel(self):
        self.assertIsNone(self.r.getset("a", "1"))
        self.assertEqual(self.r.getset("a", "2"), b"1")
        self.assertEqual(self.r.getdel("a"), b"2")
        self.assertIsNone(self.r.getdel("a"))
        self.assertEqual(self.r.exists("a"), 0)
        self.assertTrue(self.r.setnx("a", "x"))
        self.assertFalse(self.r.setnx("a", "y"))
        self.assertEqual(self.r.get("a"), b"x")

    def test_append_strlen_getrange_setrange(self):
        self.assertEqual(self.r.append("s", "Hello"), 5)
        self.assertEqual(self.r.append("s", " World"), 11)
        self.assertEqual(self.r.strlen("s"), 11)
        self.assertEqual(self.r.strlen("missing"), 0)
        self.assertEqual(self.r.getrange("s", 0, 4), b"Hello")
        self.assertEqual(self.r.getrange("s", -5, -1), b"World")
        self.assertEqual(self.r.getrange("s", 100, 200), b"")
        self.assertEqual(self.r.setrange("s", 6, "Redis"), 11)
        self.assertEqual(self.r.get("s"), b"Hello Redis")
        self.assertEqual(self.r.setrange("e", 3, "ab"), 5)
        self.assertEqual(self.r.get("e"), b"\x00\x00\x00ab")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.setrange("s", -1, "x")
        self.assertEqual(str(e.exception), "offset is out of range")


class KeyspaceTest(ClientTestCase):
    keys = ["a", "b", "c", "missing"]

    def test_type_rename_copy_unlink(self):
        self.assertEqual(self.r.type("missing"), b"none")
        self.r.set("a", "1")
        self.assertEqual(self.r.type("a"), b"string")
        self.assertTrue(self.r.rename("a", "b"))
        self.assertEqual(self.r.get("b"), b"1")
        with self.assertRaises(redis.ResponseError) as e:
            self.r.rename("missing", "x")
        self.assertEqual(str(e.exception), "no such key")
        self.r.set("a", "2")
        self.assertFalse(self.r.renamenx("a", "b"))
        self.assertTrue(self.r.renamenx("a", "c"))
        self.assertTrue(self.r.copy("c", "a"))
        self.assertFalse(self.r.copy("c", "a"))
        self.r.set("c", "3")
        self.assertTrue(self.r.copy("c", "a", replace=True))
        self.assertEqual(self.r.get("a"), b"3")
        self.assertEqual(self.r.unlink("a", "b", "c", "missing"), 3)
        self.assertEqual(self.r.dbsize(), 0)

    def test_copy_to_another_database(self):
        self.r.set("a", "zero")
        self.assertTrue(self.r.copy("a", "b", destination_db=1))
        self.assertEqual(self.db(1).get("b"), b"zero")
        self.assertIsNone(self.r.get("b"))


class DatabasesTest(ClientTestCase):
    keys = ["k", "j"]

    def test_databases_are_separate(self):
        one = self.db(1)
        self.r.set("k", "zero")
        one.set("k", "one")
        one.set("j", "one")
        self.assertEqual(self.r.get("k"), b"zero")
        self.assertEqual(one.get("k"), b"one")
        self.assertIsNone(self.r.get("j"))
        self.assertEqual(self.r.dbsize(), 1)
        self.assertEqual(one.dbsize(), 2)
        one.delete("k")
        self.assertEqual(self.r.get("k"), b"zero")

    def test_database_out_of_range(self):
        r = client(db=16, password=PASSWORD)
        try:
            with self.assertRaises(redis.ResponseError) as e:
                r.ping()
            self.assertEqual(str(e.exception), "DB index is out of range")
        finally:
            r.close()


class PipelineTest(ClientTestCase):
    keys = ["a", "n", "s", "k"]

    def test_transaction_pipeline(self):
        # transaction=True is the default: MULTI ... EXEC.
        pipe = self.r.pipeline()
        pipe.set("a", "1").incr("a").get("a").mget("a", "missing")
        self.assertEqual(pipe.execute(), [True, 2, b"2", [b"2", None]])

    def test_plain_pipeline(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(100):
            pipe.incr("n")
        pipe.get("n")
        results = pipe.execute()
        self.assertEqual(results[:100], list(range(1, 101)))
        self.assertEqual(results[100], b"100")

    def test_error_inside_a_transaction_does_not_stop_the_others(self):
        self.r.set("s", "abc")
        pipe = self.r.pipeline()
        pipe.incr("s").set("k", "v").get("k")
        results = pipe.execute(raise_on_error=False)
        self.assertIsInstance(results[0], redis.ResponseError)
        self.assertEqual(results[1:], [True, b"v"])
        pipe.incr("s")
        with self.assertRaises(redis.ResponseError):
            pipe.execute()

    def test_queue_time_error_aborts_the_transaction(self):
        pipe = self.r.pipeline()
        pipe.set("k", "v").execute_command("NOSUCHCOMMAND")
        with self.assertRaises(redis.ResponseError):
            pipe.execute()
        self.assertIsNone(self.r.get("k"))

    def test_watch_fails_on_a_concurrent_write(self):
        other = client(password=PASSWORD)
        try:
            with self.r.pipeline() as pipe:
                pipe.watch("k")
                other.set("k", "theirs")
                pipe.multi()
                pipe.set("k", "mine")
                with self.assertRaises(redis.WatchError):
                    pipe.execute()
            self.assertEqual(self.r.get("k"), b"theirs")
        finally:
            other.close()

    def test_transaction_helper_retries_after_a_concurrent_write(self):
        other = client(password=PASSWORD)
        self.r.set("n", "10")
        calls = []

        def double(pipe):
            value = int(pipe.get("n"))  # immediate: the pipeline is watching
            calls.append(value)
            if len(calls) == 1:
                other.set("n", "20")  # someone else wins the first round
            pipe.multi()
            pipe.set("n", value * 2)

        try:
            self.assertEqual(self.r.transaction(double, "n"), [True])
            self.assertEqual(calls, [10, 20])
            self.assertEqual(self.r.get("n"), b"40")
        finally:
            other.close()


class ConnectionTest(ClientTestCase):
    def test_client_name_and_id(self):
        self.assertIsNone(self.r.client_getname())
        self.assertTrue(self.r.client_setname("kvs-test"))
        self.assertEqual(self.r.client_getname(), "kvs-test")  # redis-py decodes it
        with self.assertRaises(redis.ResponseError):
            self.r.client_setname("has space")
        first = self.r.client_id()
        self.assertIsInstance(first, int)
        other = client(password=PASSWORD, client_name="other")
        try:
            self.assertEqual(other.client_getname(), "other")
            self.assertGreater(other.client_id(), first)
        finally:
            other.close()

    def test_client_info(self):
        self.r.client_setname("me")
        info = self.db(2).client_info()  # parsed: numbers become ints
        self.assertEqual(info["db"], 2)
        info = self.r.client_info()
        self.assertEqual(info["name"], "me")
        self.assertEqual(info["db"], 0)
        self.assertEqual(info["id"], self.r.client_id())

    def test_time(self):
        seconds, micros = self.r.time()
        self.assertGreater(seconds, 1_600_000_000)
        self.assertLess(micros, 1_000_000)

    def test_resp3(self):
        init = inspect.signature(redis.Redis.__init__).parameters
        if "protocol" not in init:
            self.skipTest(f"redis-py {redis.__version__} has no protocol= (RESP3 came in 5.0)")
        r = client(password=PASSWORD, protocol=3)
        try:
            r.set("k", "v")
            self.assertEqual(r.get("k"), b"v")
            self.assertIsNone(r.get("missing"))
            r.delete("k")
        finally:
            r.close()


class ThreadsTest(ClientTestCase):
    keys = ["counter"]

    def test_concurrent_increments_all_count(self):
        threads, increments = 8, 250
        errors = []

        def work():
            try:
                for _ in range(increments):
                    self.r.incr("counter")  # the shared client's pool: one connection each
            except Exception as e:  # reported below, not lost in the thread
                errors.append(e)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertEqual(errors, [])
        self.assertEqual(int(self.r.get("counter")), threads * increments)


class ExpiryTest(ClientTestCase):
    """What session stores, caches, rate limiters and locks do with redis-py."""

    keys = ["session", "cache", "rate", "lock", "gone"]

    def test_session_store(self):
        self.assertTrue(self.r.setex("session", 60, "user=1"))
        self.assertEqual(self.r.get("session"), b"user=1")
        self.assertIn(self.r.ttl("session"), (59, 60))
        self.assertTrue(self.r.expire("session", 120))
        self.assertIn(self.r.ttl("session"), (119, 120))
        self.assertEqual(self.r.getex("session", persist=True), b"user=1")
        self.assertEqual(self.r.ttl("session"), -1)
        self.assertEqual(self.r.ttl("missing"), -2)

    def test_cache_with_px_and_pexpireat(self):
        self.assertTrue(self.r.set("cache", "v", px=100000))
        self.assertLessEqual(self.r.pttl("cache"), 100000)
        self.assertGreater(self.r.pttl("cache"), 90000)
        self.assertTrue(self.r.pexpireat("cache", 4000000000123))
        self.assertEqual(self.r.pexpiretime("cache"), 4000000000123)
        self.assertEqual(self.r.expiretime("cache"), 4000000000)

    def test_rate_limiter(self):
        with self.r.pipeline(transaction=True) as p:
            p.incr("rate")
            p.expire("rate", 60, nx=True)
            self.assertEqual(p.execute(), [1, True])
        with self.r.pipeline(transaction=True) as p:
            p.incr("rate")
            p.expire("rate", 60, nx=True)
            self.assertEqual(p.execute(), [2, False])
        self.assertIn(self.r.ttl("rate"), (59, 60))

    def test_lock(self):
        self.assertTrue(self.r.set("lock", "me", nx=True, px=30000))
        self.assertIsNone(self.r.set("lock", "other", nx=True, px=30000))
        self.assertGreater(self.r.pttl("lock"), 29000)
        # Released by its holder (redis-py's Lock helper needs Lua scripts, which kvs lacks).
        self.assertEqual(self.r.get("lock"), b"me")
        self.assertEqual(self.r.delete("lock"), 1)
        self.assertTrue(self.r.set("lock", "other", nx=True, px=30000))

    def test_a_key_expires(self):
        self.assertTrue(self.r.set("gone", "v", px=50))
        time.sleep(0.3)
        self.assertIsNone(self.r.get("gone"))
        self.assertEqual(self.r.exists("gone"), 0)


class PasswordTest(unittest.TestCase):
    """Against a server with a password (KVS_TEST_PASSWORD)."""

    def setUp(self):
        if PASSWORD is None:
            self.skipTest("KVS_TEST_PASSWORD is not set: the server has no password")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def connect(self, **kwargs):
        c = client(**kwargs)
        self.clients.append(c)
        return c

    def test_right_password(self):
        r = self.connect(password=PASSWORD)
        self.assertTrue(r.ping())
        self.assertTrue(r.set("pw", "1"))
        self.assertEqual(r.get("pw"), b"1")
        self.assertEqual(r.delete("pw"), 1)

    def test_right_password_as_the_default_user(self):
        r = self.connect(username="default", password=PASSWORD)
        self.assertTrue(r.ping())

    def test_no_password_is_noauth(self):
        r = self.connect()
        with self.assertRaises(redis.AuthenticationError) as e:
            r.get("pw")
        self.assertEqual(str(e.exception), "Authentication required.")

    def test_wrong_password_is_wrongpass(self):
        # redis-py 4.3 maps NOAUTH to AuthenticationError but not WRONGPASS, which comes
        # back as a ResponseError with the code still in its message.
        r = self.connect(password=PASSWORD + "x")
        with self.assertRaises(redis.ResponseError) as e:
            r.ping()
        self.assertEqual(str(e.exception),
                         "WRONGPASS invalid username-password pair or user is disabled.")
        r = self.connect(username="default", password=PASSWORD + "x")
        with self.assertRaises(redis.ResponseError) as e:
            r.ping()
        self.assertTrue(str(e.exception).startswith("WRONGPASS "))

    def test_auth_later_on_the_connection(self):
        r = self.connect(single_connection_client=True)
        with self.assertRaises(redis.AuthenticationError):
            r.ping()
        self.assertTrue(r.execute_command("AUTH", PASSWORD))
        self.assertTrue(r.ping())


if __name__ == "__main__":
    unittest.main()
