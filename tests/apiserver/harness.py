"""Runs the test API server as a child process and talks to it.

Tests of the API server itself and tests of the daemon need the same
things: a fresh PKI, a token file they can rewrite, the server on
ephemeral ports, its control port, and an HTTPS client that trusts the
test CA.  Python 3 standard library only.
"""

import http.client
import json
import os
import ssl
import subprocess
import sys
import time

from pki import make_pki, write_kubeconfig

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "apiserver.py")


class ApiServer:
    """The server under test.  `workdir` receives the PKI, the token
    file, the ready file and the server's stderr log.  Extra keyword
    arguments become command-line options (bookmark_interval=2 ->
    --bookmark-interval 2)."""

    def __init__(self, workdir, token="test-token-1", client_ca=False,
                 host="127.0.0.1", **options):
        self.workdir = workdir
        self.host = host
        self.pki = make_pki(workdir, ips=[host] if host != "127.0.0.1" else [])
        self.token_file = os.path.join(workdir, "token")
        self.set_token(token)
        ready = os.path.join(workdir, "ready.json")
        argv = [sys.executable, SERVER, "--cert", self.pki.server_cert,
                "--key", self.pki.server_key, "--token-file", self.token_file,
                "--host", host, "--ready-file", ready]
        if client_ca:
            argv += ["--client-ca", self.pki.ca]
        for k, v in options.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        self.log = open(os.path.join(workdir, "apiserver.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("apiserver did not start:\n" +
                                   self.log_text())
            time.sleep(0.02)
        with open(ready) as f:
            ports = json.load(f)
        self.port, self.control_port = ports["port"], ports["control_port"]
        hostport = "[%s]" % host if ":" in host else host
        self.url = "https://%s:%d" % (hostport, self.port)
        self.ssl = ssl.create_default_context(cafile=self.pki.ca)

    def set_token(self, *tokens):
        """Rewrites the token file atomically; every token given is
        valid from the next request on."""
        tmp = self.token_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(t + "\n" for t in tokens))
        os.rename(tmp, self.token_file)

    def kubeconfig(self, path, **creds):
        return write_kubeconfig(path, self.url, self.pki.ca, **creds)

    def log_text(self):
        with open(os.path.join(self.workdir, "apiserver.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    # -- control port

    def control(self, method, path, body=None):
        """(status, decoded JSON) from the control port."""
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port,
                                          timeout=120)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            conn.close()

    def ctl(self, method, path, body=None):
        """control() for calls that must succeed."""
        status, doc = self.control(method, path, body)
        if status != 200:
            raise RuntimeError("control %s %s: %d %s"
                               % (method, path, status, doc))
        return doc

    def fault(self, **f):
        return self.ctl("POST", "/faults", f)

    def requests(self, since=0):
        return self.ctl("GET", "/requests?since=%d" % since)["requests"]

    # -- API port

    def connect(self, timeout=30, cert=None):
        """An HTTPS connection that verifies the server against the test
        CA, optionally presenting the test client certificate."""
        ctx = self.ssl
        if cert:
            ctx = ssl.create_default_context(cafile=self.pki.ca)
            ctx.load_cert_chain(self.pki.client_cert, self.pki.client_key)
        return http.client.HTTPSConnection(self.host, self.port,
                                           timeout=timeout, context=ctx)

    def open(self, method, path, body=None, token=None, headers=None,
             conn=None, timeout=30):
        """Sends a request and returns the response unread (for
        streams).  token: the bearer token, default the file's first;
        "" sends none."""
        if token is None:
            with open(self.token_file) as f:
                token = f.readline().strip()
        h = {"Accept": "application/json",
             "User-Agent": "kn-test-client/1.0"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        conn = conn or self.connect(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body, headers=h)
        return conn.getresponse()

    def api(self, method, path, body=None, **kw):
        """(status, headers, body bytes) of one request."""
        r = self.open(method, path, body, **kw)
        data = r.read()
        return r.status, r.headers, data

    def get_json(self, path, **kw):
        status, headers, data = self.api("GET", path, **kw)
        return status, json.loads(data)


def read_events(resp, limit=None, until=None):
    """Watch events from a streaming response, one JSON line each,
    until the stream ends, `limit` events arrived, or until(event) is
    true.  Raises what http.client raises for a broken stream."""
    events = []
    while limit is None or len(events) < limit:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
        if until and until(events[-1]):
            break
    return events
