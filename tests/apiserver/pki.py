"""A throw-away PKI and kubeconfig files for tests that talk real TLS.

The watcher verifies the API server against a CA it was given and
proves itself with a bearer token or a client certificate, exactly as
against a real cluster, so the tests need a CA, a server certificate
whose SANs match the address they dial, and a client certificate from
the same CA.  The `openssl` command-line tool makes them (the Python
standard library cannot issue certificates); tests check
have_openssl() first and skip when it is missing.

Keys are ECDSA P-256: quick to make, and accepted by Go (kubectl),
OpenSSL (libcurl) and Python's ssl alike.
"""

import base64
import json
import os
import shutil
import subprocess
from types import SimpleNamespace

DAYS = "2"


def have_openssl():
    return shutil.which("openssl") is not None


def _openssl(*args, cwd):
    r = subprocess.run(("openssl",) + args, cwd=cwd, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr))


def _key(directory, name):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=directory)
    os.chmod(os.path.join(directory, name + ".key"), 0o600)


def _issue(directory, name, subject, extensions):
    """A key and a certificate signed by ca.key, with the given
    X.509v3 extension lines."""
    _key(directory, name)
    ext = name + ".ext"
    with open(os.path.join(directory, ext), "w") as f:
        f.write("\n".join(extensions + [
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid,issuer",
        ]) + "\n")
    _openssl("req", "-new", "-key", name + ".key", "-subj", subject,
             "-out", name + ".csr", cwd=directory)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
             "-CAkey", "ca.key", "-CAcreateserial", "-days", DAYS,
             "-sha256", "-extfile", ext, "-out", name + ".crt", cwd=directory)


def make_pki(directory, ips=(), dns=(), client_cn="kopeio-networkd",
             client_org="system:nodes"):
    """Creates in `directory` (which must exist): ca.crt/ca.key, a
    server certificate server.crt/server.key for 127.0.0.1, ::1 and
    localhost plus the extra `ips` and `dns` names, and a client
    certificate client.crt/client.key for CN=client_cn, O=client_org
    (a real API server maps these to user and group).  Returns the
    paths as attributes ca, ca_key, server_cert, server_key,
    client_cert, client_key."""
    _key(directory, "ca")
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj",
             "/CN=kn-test-ca", "-days", DAYS, "-sha256", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.crt",
             cwd=directory)
    sans = ["IP:127.0.0.1", "IP:::1", "DNS:localhost"]
    sans += ["IP:" + ip for ip in ips] + ["DNS:" + d for d in dns]
    _issue(directory, "server", "/CN=kube-apiserver", [
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = " + ",".join(sans),
    ])
    _issue(directory, "client", "/O=%s/CN=%s" % (client_org, client_cn), [
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature",
        "extendedKeyUsage = clientAuth",
    ])
    p = lambda n: os.path.join(directory, n)
    return SimpleNamespace(ca=p("ca.crt"), ca_key=p("ca.key"),
                           server_cert=p("server.crt"),
                           server_key=p("server.key"),
                           client_cert=p("client.crt"),
                           client_key=p("client.key"))


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, server, ca, token=None, token_file=None,
                     client_cert=None, client_key=None, files=False,
                     insecure=False):
    """A single-context kubeconfig for kubectl and for the daemon.
    The CA and any client certificate are embedded as *-data (base64);
    the credential is a literal token, a tokenFile (re-read by the
    client, so a test can rotate it) or a client certificate.  files:
    name the CA, certificate and key by path instead.  insecure: no CA,
    insecure-skip-tls-verify instead.  Strings
    are written as JSON strings, which YAML reads as double-quoted
    scalars."""
    q = json.dumps
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: test",
        "  cluster:",
        "    server: " + q(server),
        "    insecure-skip-tls-verify: true" if insecure else
        ("    certificate-authority: " + q(ca)) if files else
        ("    certificate-authority-data: " + q(_b64(ca))),
        "contexts:",
        "- name: test",
        "  context:",
        "    cluster: test",
        "    user: test",
        "current-context: test",
        "users:",
        "- name: test",
        "  user:",
    ]
    creds = []
    if token is not None:
        creds.append("    token: " + q(token))
    if token_file is not None:
        creds.append("    tokenFile: " + q(token_file))
    if client_cert is not None and files:
        creds.append("    client-certificate: " + q(client_cert))
        creds.append("    client-key: " + q(client_key))
    elif client_cert is not None:
        creds.append("    client-certificate-data: " + q(_b64(client_cert)))
        creds.append("    client-key-data: " + q(_b64(client_key)))
    if not creds:
        raise ValueError("a kubeconfig needs a token, a tokenFile or a "
                         "client certificate")
    lines += creds
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path
