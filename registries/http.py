"""Outbound HTTP for credential checks, under one network policy.

Every request has connect and read timeouts, an overall deadline and a cap
on the body it reads. Redirects are never followed automatically: the client
follows a few itself and checks each hop like the first URL.

URLs that users enter, and every redirect or Bearer realm that an upstream
names, go through the address guard. A guarded connection resolves the host
once, rejects the request if any address is loopback, private, link-local,
multicast or reserved (unless GIMLET_REGISTRY_ALLOWED_NETWORKS lists its
network), and connects to an address it checked. TLS still uses the host
name for SNI and certificate verification. Cloud metadata addresses are
rejected even when their network is listed. Base URLs that the deployment
sets (GIMLET_GITHUB_API_URL and the others) are trusted and skip the guard,
but not the redirects they send.

The environment's proxy and CA-bundle variables are ignored, so a stored CA
certificate cannot be overridden, and verification is never turned off.
"""

import ipaddress
import json
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

logger = logging.getLogger(__name__)

USER_AGENT = "gimlet-registries/0.1 (credential check)"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# A host may resolve to many addresses; each one costs up to a connect
# timeout, so only the first few are tried.
MAX_ADDRESSES_TRIED = 3
CHUNK_BYTES = 64 * 1024

# Never reachable, whatever the allowlist contains: the IPv4 link-local range
# that contains the metadata service of AWS, GCP, Azure and others
# (169.254.169.254), AWS's IPv6 metadata address, and Alibaba Cloud's
# metadata address, which lies in the shared range 100.64.0.0/10.
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("169.254.0.0/16", "fd00:ec2::254/128", "100.100.100.200/32")
)
# RFC 6052 prefix through which NAT64 gateways reach IPv4 addresses.
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(Exception):
    """A request that ended without a usable response; its text has no secret."""


class BlockedAddressError(OutboundError):
    """The network policy forbids the address a host resolves to."""


class NetworkError(OutboundError):
    """Resolution, connection or reading failed, or timed out."""


class TLSError(OutboundError):
    """A failed TLS handshake, with its cause in plain words as `reason`."""

    def __init__(self, host, reason):
        super().__init__(f"TLS with {host} failed: {reason}")
        self.host = host
        self.reason = reason


class ResponseTooLargeError(OutboundError):
    """The response body is over GIMLET_MAX_RESPONSE_BYTES."""


class RedirectError(OutboundError):
    """A redirect that the client does not follow."""


# Resolution and the address guard


@lru_cache(maxsize=8)
def _parse_networks(cidrs):
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"GIMLET_REGISTRY_ALLOWED_NETWORKS contains {cidr!r}, which is "
                "not a CIDR. Use comma-separated networks such as 10.0.0.0/8."
            ) from None
    return tuple(networks)


def allowed_networks():
    """Return the networks from GIMLET_REGISTRY_ALLOWED_NETWORKS."""
    return _parse_networks(tuple(settings.GIMLET_REGISTRY_ALLOWED_NETWORKS))


def _embedded_ipv4(address):
    """Return the IPv4 address that an IPv6 address carries, if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64_NETWORK:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    return None


def _address_kind(address):
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    return "a non-public address"


def forbidden_reason(address):
    """Return why the policy forbids `address`, or None if it is allowed."""
    address = ipaddress.ip_address(address)
    embedded = _embedded_ipv4(address)
    candidates = [address] if embedded is None else [embedded, address]
    for candidate in candidates:
        if any(candidate in network for network in METADATA_NETWORKS):
            return "a cloud metadata or link-local address"
    allowlist = allowed_networks()
    for candidate in candidates:
        if any(candidate in network for network in allowlist):
            return None
    for candidate in candidates:
        if candidate.is_multicast or not candidate.is_global:
            return _address_kind(candidate)
    return None


def resolve_checked(host, port):
    """Resolve `host` once and return its addresses, all allowed.

    Raise BlockedAddressError if any address is forbidden: a name that
    resolves to both a public and a private address is rejected.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NetworkError(f"Could not resolve {host}: {error.strerror}.") from None
    except UnicodeError:
        raise NetworkError(f"{host!r} is not a valid host name.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        reason = forbidden_reason(address.split("%", 1)[0])
        if reason:
            subject = host
            if host != address:
                subject = f"{host} resolves to {address}, which"
            raise BlockedAddressError(
                f"{subject} is {reason}; outbound requests to it are not "
                "allowed. If this registry is on an internal network, ask the "
                "operator to list that network in "
                "GIMLET_REGISTRY_ALLOWED_NETWORKS."
            )
    if not addresses:
        raise NetworkError(f"Could not resolve {host}: no addresses.")
    return addresses[:MAX_ADDRESSES_TRIED]


class GuardedConnectionMixin:
    """Connect only to addresses that the guard checked for this host.

    `self.host` stays the host name, so the Host header, SNI and
    certificate verification all use it; only the socket goes to the
    checked address.
    """

    def _new_conn(self):
        addresses = resolve_checked(self._dns_host, self.port)
        error = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as cause:
                error = ConnectTimeoutError(
                    self,
                    f"Connection to {self.host} ({address}) timed out "
                    f"(connect timeout={self.timeout}).",
                )
                error.__cause__ = cause
            except OSError as cause:
                error = NewConnectionError(
                    self, f"Failed to connect to {self.host} ({address}): {cause}"
                )
                error.__cause__ = cause
        raise error


class GuardedHTTPConnection(GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedPoolManager(PoolManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections pass through the address guard."""

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = GuardedPoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )


# Shared, pooled sessions


class _Sessions:
    """One adapter per policy shared by all threads; a session per thread.

    urllib3's pool manager is thread-safe, so threads share connection pools
    per host; requests.Session is not, so each thread gets its own.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._adapters = {}
        self._local = threading.local()

    def adapter(self, guarded):
        with self._lock:
            if guarded not in self._adapters:
                adapter_class = GuardedAdapter if guarded else HTTPAdapter
                self._adapters[guarded] = adapter_class(
                    pool_connections=100,
                    pool_maxsize=max(settings.GIMLET_VALIDATION_CONCURRENCY, 1),
                    max_retries=0,
                )
            return self._adapters[guarded]

    def session(self, guarded):
        sessions = self._local.__dict__.setdefault("sessions", {})
        if guarded not in sessions:
            sessions[guarded] = self._new_session(self.adapter(guarded))
        return sessions[guarded]

    @staticmethod
    def _new_session(adapter):
        session = requests.Session()
        # Proxy and CA-bundle variables (HTTPS_PROXY, REQUESTS_CA_BUNDLE,
        # CURL_CA_BUNDLE) and .netrc are read only when trust_env is true.
        session.trust_env = False
        # Cookies from one tenant's registry must never reach another's.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        session.headers["User-Agent"] = USER_AGENT
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self):
        with self._lock:
            for adapter in self._adapters.values():
                adapter.close()
            self._adapters.clear()
        self._local = threading.local()


sessions = _Sessions()


# Requests


@dataclass(frozen=True)
class Response:
    """A response whose body was read in full, within the size cap."""

    url: str
    status: int
    headers: CaseInsensitiveDict
    body: bytes

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """Return the body parsed as a JSON object, or None."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


# OpenSSL verification codes (X509_V_ERR_*, include/openssl/x509_vfy.h).
UNKNOWN_AUTHORITY_CODES = {2, 18, 19, 20, 21}
TLS_REASONS = {
    9: "the certificate is not yet valid",
    10: "the certificate has expired",
    62: "name mismatch: the certificate is not valid for {host}",
    64: "name mismatch: the certificate is not valid for {host}",
}


def _causes(error):
    """Yield the exception, its causes and contexts, and wrapped reasons."""
    seen = set()
    pending = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)


def _tls_reason(error, host):
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            code = cause.verify_code
            if code in UNKNOWN_AUTHORITY_CODES:
                return (
                    "unknown authority: the certificate is not signed by a "
                    "trusted CA. Store the registry's CA certificate."
                )
            if code in TLS_REASONS:
                return TLS_REASONS[code].format(host=host)
            return cause.verify_message or str(cause)
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake failed ({cause.reason or cause})"
    return "the TLS handshake failed"


def _network_message(error, host):
    for cause in _causes(error):
        if isinstance(cause, ConnectionRefusedError):
            return f"{host} refused the connection."
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return f"Could not resolve {host}: {cause.strerror}."
    return f"The connection to {host} failed."


def _read_body(raw, deadline):
    limit = settings.GIMLET_MAX_RESPONSE_BYTES
    chunks = []
    size = 0
    for chunk in raw.stream(CHUNK_BYTES, decode_content=True):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLargeError(
                f"The response body is over {limit} bytes, the maximum read."
            )
        if time.monotonic() > deadline:
            raise NetworkError("The response took too long to arrive.")
        chunks.append(chunk)
    return b"".join(chunks)


def _same_origin(first, second):
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class Client:
    """Send GET requests under the network policy; see outbound_client()."""

    def __init__(self, ca_file=None):
        self.ca_file = ca_file

    def get(self, url, *, headers=None, auth=None, trusted=False):
        """GET `url` and return its Response; raise an OutboundError.

        `trusted` skips the address guard for the first hop only, for base
        URLs from settings. `auth` and Authorization headers are dropped when
        a redirect leaves the origin.
        """
        headers = dict(headers or {})
        for hop in range(MAX_REDIRECTS + 1):
            guarded = not (trusted and hop == 0)
            response = self._send(url, headers, auth, guarded=guarded)
            if response.status not in REDIRECT_STATUSES:
                return response
            location = response.headers.get("Location")
            if not location:
                return response
            target = urljoin(url, location)
            self._check_redirect(url, target)
            if not _same_origin(url, target):
                auth = None
                headers.pop("Authorization", None)
            logger.debug("Following a redirect from %s to %s", url, target)
            url = target
        raise RedirectError(f"More than {MAX_REDIRECTS} redirects from {url}.")

    @staticmethod
    def _check_redirect(source, target):
        scheme = urlsplit(target).scheme
        if scheme not in {"http", "https"}:
            raise RedirectError(f"{source} redirects to a {scheme or 'relative'} URL.")
        if urlsplit(source).scheme == "https" and scheme == "http":
            raise RedirectError(
                f"{source} redirects to {target}, which drops https; the "
                "redirect was not followed."
            )

    def _send(self, url, headers, auth, *, guarded):
        host = urlsplit(url).hostname or url
        session = sessions.session(guarded)
        timeout = (settings.GIMLET_CONNECT_TIMEOUT, settings.GIMLET_READ_TIMEOUT)
        deadline = time.monotonic() + settings.GIMLET_REQUEST_DEADLINE
        try:
            upstream = session.get(
                url,
                headers=headers,
                auth=auth,
                timeout=timeout,
                verify=self.ca_file or True,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as error:
            raise TLSError(host, _tls_reason(error, host)) from None
        except requests.exceptions.ConnectTimeout:
            raise NetworkError(
                f"Connecting to {host} timed out after "
                f"{settings.GIMLET_CONNECT_TIMEOUT:g} s."
            ) from None
        except requests.exceptions.ReadTimeout:
            raise NetworkError(
                f"{host} sent no response within {settings.GIMLET_READ_TIMEOUT:g} s."
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise NetworkError(_network_message(error, host)) from None
        except (requests.exceptions.InvalidURL, ValueError) as error:
            raise OutboundError(f"{url} is not a valid URL ({error}).") from None
        with upstream:
            try:
                body = _read_body(upstream.raw, deadline)
            except (requests.exceptions.RequestException, OSError) as error:
                raise NetworkError(
                    f"Reading the response from {host} failed ({type(error).__name__})."
                ) from None
            except ResponseTooLargeError as error:
                raise ResponseTooLargeError(f"{host}: {error}") from None
            except Exception as error:
                # urllib3 raises its own ProtocolError and DecodeError here.
                if type(error).__module__.startswith("urllib3"):
                    raise NetworkError(
                        f"Reading the response from {host} failed "
                        f"({type(error).__name__})."
                    ) from None
                raise
        logger.debug(
            "GET %s returned %s (%d bytes)", url, upstream.status_code, len(body)
        )
        return Response(
            url=url, status=upstream.status_code, headers=upstream.headers, body=body
        )


@contextmanager
def outbound_client(*, ca_pem=None):
    """Yield a Client; with `ca_pem`, TLS trusts only those CA certificates.

    requests takes a CA bundle as a file path, so the PEM goes into a
    private temporary file (mode 0600) that is removed on exit, together
    with the connection pools that used it.
    """
    if not ca_pem:
        yield Client()
        return
    descriptor, path = tempfile.mkstemp(prefix="gimlet-ca-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(ca_pem)
        yield Client(ca_file=path)
    finally:
        _close_pools_using(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _close_pools_using(ca_file):
    """Close the pools keyed on `ca_file`, since the file is going away."""
    for guarded in (True, False):
        pools = sessions.adapter(guarded).poolmanager.pools
        for key in pools.keys():
            if getattr(key, "key_ca_certs", None) == ca_file:
                pools.pop(key, None)
