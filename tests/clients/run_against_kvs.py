#!/usr/bin/python3
"""Runs a client test file (redis_py_test.py) against a real server it starts and stops.

    run_against_kvs.py --kvs-server build/bin/kvs-server tests/clients/redis_py_test.py
    run_against_kvs.py --kvs-server build/bin/kvs-server --password tests/clients/...
    run_against_kvs.py --redis-server /usr/bin/redis-server [--password] tests/clients/...

The server gets a free loopback port and a fresh temporary data directory; the test file
runs with KVS_TEST_ADDR=127.0.0.1:PORT (and KVS_TEST_PASSWORD with --password, for which
kvs-server is given --requirepass-file and redis-server --requirepass). The exit status is
the test file's. It is 77 (CTest's SKIP_RETURN_CODE), with the reason printed, when the
Python running this has no redis module (Debian: python3-redis, which scripts/install-deps
installs). A failure to start the server is a failure.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
PASSWORD = "kvs-test-s3cret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout_s=30):
    """True once the port accepts connections; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def server_command(args, port, tmp):
    data_dir = os.path.join(tmp, "data")
    os.mkdir(data_dir)
    if args.redis_server:
        cmd = [args.redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", data_dir]
        if args.password:
            cmd += ["--requirepass", PASSWORD]
        return cmd
    cmd = [args.kvs_server, "--addr", f"127.0.0.1:{port}", "--data-dir", data_dir]
    if args.password:
        path = os.path.join(tmp, "requirepass")
        with open(path, "w") as f:
            f.write(PASSWORD)  # exactly the password: no newline
        cmd += ["--requirepass-file", path]
    return cmd + args.server_arg


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--kvs-server", help="the kvs-server binary")
    which.add_argument("--redis-server", help="a redis-server binary, to check the tests")
    parser.add_argument("--password", action="store_true",
                        help="start the server with a password and run the password tests")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="one more kvs-server argument (repeatable)")
    parser.add_argument("test_file")
    parser.add_argument("test_args", nargs="*", help="passed to the test file (unittest)")
    args = parser.parse_args()

    try:
        import redis  # noqa: F401  (only checked here; the test file uses it)
    except ImportError:
        print(f"SKIP: {sys.executable} has no redis module (apt-get install python3-redis; "
              "scripts/install-deps installs it)")
        return SKIP

    tmp = tempfile.mkdtemp(prefix="kvs-clients-")
    port = free_port()
    cmd = server_command(args, port, tmp)
    log_path = os.path.join(tmp, "server.log")
    # The server gets no KVS_* settings from whoever runs this, and no service manager's.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KVS_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    print("server:", " ".join(cmd), flush=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
    try:
        status = run_tests(args, port, proc, log_path)
    finally:
        status = stop(proc, status)
        if status not in (0, SKIP):
            with open(log_path, errors="replace") as f:
                print("--- server log (the end) ---\n" + f.read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    return status


def run_tests(args, port, proc, log_path):
    """Waits for the server, then runs the test file; its exit status, or SKIP, or 1."""
    if not wait_for_port(port, proc):
        with open(log_path, errors="replace") as f:
            log = f.read()
        print(f"FAIL: the server did not start (exit {proc.poll()}):\n{log}")
        return 1
    test_env = dict(os.environ, KVS_TEST_ADDR=f"127.0.0.1:{port}")
    test_env.pop("KVS_TEST_PASSWORD", None)
    test_args = list(args.test_args)
    if args.password:
        test_env["KVS_TEST_PASSWORD"] = PASSWORD
        test_args = test_args or ["PasswordTest"]
    sys.stdout.flush()
    result = subprocess.run([sys.executable, args.test_file, "-v"] + test_args, env=test_env,
                            check=False)
    if proc.poll() is not None:
        print(f"FAIL: the server exited during the tests ({proc.returncode})")
        return 1
    return result.returncode


def stop(proc, status):
    """Stops the server (SIGTERM); `status`, or 1 if the tests passed but the stop was not
    clean: a sanitizer's report or a crash on the way out fails the run too."""
    if proc.poll() is not None:
        return status
    proc.terminate()
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = "none: killed after 20 s"
    if code != 0 and status == 0:
        print(f"FAIL: the server's exit status on SIGTERM: {code}")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
