"""Local servers for the credential-check tests, all on 127.0.0.1.

- Certificates: a test CA and server certificates that the tests generate
  with `cryptography` (valid, expired, or for another name).
- FakeServer: a threaded HTTP(S) server whose routes a test sets, for fakes
  of GitHub, Docker Hub and token servers. It records every request.
- TokenServer: a Bearer token server that signs JWTs the way the CNCF
  distribution registry verifies them (RS256, signing certificate in x5c).
- DistributionRegistry: the real registry (Debian's docker-registry, CNCF
  distribution 2.8) with htpasswd (bcrypt) or token authentication.
"""

import base64
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
REGISTRY_BINARY = "docker-registry"
START_TIMEOUT = 15.0


# Certificates


@dataclass
class Identity:
    """A private key and its certificate, as PEM text."""

    key_pem: str
    cert_pem: str
    key: object = field(repr=False)
    cert: x509.Certificate = field(repr=False)

    def write(self, folder, name):
        folder = Path(folder)
        key_path = folder / f"{name}.key"
        cert_path = folder / f"{name}.crt"
        key_path.write_text(self.key_pem)
        key_path.chmod(0o600)
        cert_path.write_text(self.cert_pem)
        return cert_path, key_path


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _identity(key, cert):
    return Identity(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key=key,
        cert=cert,
    )


def make_ca(common_name="Gimlet test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return _identity(key, cert)


def make_server_cert(ca, names, *, expired=False):
    """Issue a TLS server certificate for `names` (DNS names or IPs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    if expired:
        not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
    else:
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=7)
    alternative_names = []
    for name in names:
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return _identity(key, cert)


def make_signing_identity(common_name="Gimlet test token signer"):
    """A self-signed RSA certificate whose key signs RS256 tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return _identity(key, cert)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_for_port(port, process=None, timeout=START_TIMEOUT):
    """Wait until 127.0.0.1:`port` accepts connections; raise on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


# Fake HTTP servers


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | str | dict = b""

    def encoded(self):
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        return headers, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server.fake
        server.requests.append(
            Recorded(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
            )
        )
        route = server.routes.get(self.path.split("?", 1)[0])
        reply = route(self) if callable(route) else route
        if reply is None:
            reply = Reply(404, body={"message": "Not Found"})
        headers, body = reply.encoded()
        self.send_response(reply.status)
        for name, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, item)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 with routes a test sets.

    `routes` maps a path (without the query) to a Reply, or to a callable
    that takes the request handler and returns one.
    """

    def __init__(self, identity=None):
        self.routes = {}
        self.requests = []
        self.identity = identity
        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self.httpd.fake = self
        self.httpd.daemon_threads = True
        if identity is not None:
            self._wrap_tls(identity)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _wrap_tls(self, identity):
        folder = (
            Path(os.environ.get("TMPDIR", "/tmp")) / f"gimlet-fake-{uuid.uuid4().hex}"
        )
        folder.mkdir(mode=0o700)
        cert_path, key_path = identity.write(folder, "server")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        shutil.rmtree(folder)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)

    @property
    def url(self):
        scheme = "https" if self.identity else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def basic_credentials(handler):
    """Return (login, password) from a request's Basic Authorization header."""
    value = handler.headers.get("Authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        login, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return None
    return login, password


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(FakeServer):
    """A Bearer token server at /token that checks Basic credentials.

    Tokens are RS256 JWTs with the signing certificate in the x5c header,
    which distribution 2.8 verifies against `auth.token.rootcertbundle`.
    Set `reject_all` to make it return 401 to every request.
    """

    def __init__(self, *, login, password, service, issuer, identity=None):
        super().__init__(identity)
        self.login = login
        self.password = password
        self.service = service
        self.issuer = issuer
        self.signer = make_signing_identity()
        self.reject_all = False
        self.routes["/token"] = self.issue

    def issue(self, handler):
        credentials = basic_credentials(handler)
        if self.reject_all or credentials != (self.login, self.password):
            return Reply(
                401,
                {"WWW-Authenticate": 'Basic realm="token"'},
                {
                    "errors": [
                        {"code": "UNAUTHORIZED", "message": "authentication required"}
                    ]
                },
            )
        return Reply(200, body={"token": self.sign(credentials[0]), "expires_in": 300})

    def sign(self, subject):
        der = self.signer.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [],
        }
        signing_input = ".".join(
            _b64url(json.dumps(part).encode()) for part in (header, claims)
        )
        signature = self.signer.key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"


# The real registry


def registry_available():
    return bool(shutil.which(REGISTRY_BINARY) and shutil.which("htpasswd"))


class DistributionRegistry:
    """The CNCF distribution registry on a loopback port, with TLS.

    `auth` is the registry's `auth` configuration section; use
    htpasswd_auth() or token_auth() to build it.
    """

    def __init__(self, folder, identity, auth):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cert_path, key_path = identity.write(self.folder, "tls")
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.folder / "data")}},
            "http": {
                "addr": f"{LOOPBACK}:{self.port}",
                "secret": uuid.uuid4().hex,
                "tls": {"certificate": str(cert_path), "key": str(key_path)},
            },
            "auth": auth,
        }
        # JSON is a subset of YAML, which the registry reads.
        self.config_path = self.folder / "config.yml"
        self.config_path.write_text(json.dumps(config))
        self.log_path = self.folder / "registry.log"
        self.process = None

    @property
    def url(self):
        return f"https://{LOOPBACK}:{self.port}"

    def start(self):
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [shutil.which(REGISTRY_BINARY), "serve", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            wait_for_port(self.port, self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(
                f"{error}; log: {self.log_path.read_text()[-2000:]}"
            ) from None
        return self

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def htpasswd_auth(folder, login, password):
    """Write a bcrypt htpasswd file and return the registry's auth section."""
    path = Path(folder) / "htpasswd"
    Path(folder).mkdir(parents=True, exist_ok=True)
    # -i reads the password from standard input, keeping it off argv.
    subprocess.run(  # noqa: S603
        [shutil.which("htpasswd"), "-B", "-c", "-i", str(path), login],
        input=password.encode(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    return {"htpasswd": {"realm": "gimlet-test", "path": str(path)}}


def token_auth(folder, token_server, realm):
    """Write the token signer's certificate; return the registry's auth section."""
    path = Path(folder) / "token-signer.crt"
    Path(folder).mkdir(parents=True, exist_ok=True)
    path.write_text(token_server.signer.cert_pem)
    return {
        "token": {
            "realm": realm,
            "service": token_server.service,
            "issuer": token_server.issuer,
            "rootcertbundle": str(path),
        }
    }
