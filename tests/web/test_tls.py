"""Promise P3, offline parts: the local CA and leaf, and the plain-HTTP redirect port."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import shlex
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from quietshop.clock import Clock
from quietshop.settings import Settings
from quietshop.web import redirect
from quietshop.web.redirect import start_redirect_server
from quietshop.web.tls import (
    CLOCK_SKEW,
    NSS_NICKNAME,
    CertificateConfigError,
    CertificatePaths,
    ensure_certificate,
    trust_instructions,
)

# ---------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------


# A date of our own for tests about ageing; certificates that a TLS handshake checks are
# made with the real clock (the default), since OpenSSL compares against the real time.
NOW = dt.datetime(2031, 5, 4, 12, 0, tzinfo=dt.UTC)


def clock_at(moment: dt.datetime) -> Clock:
    return lambda: moment


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "tls_cert": None, "tls_key": None}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def generated(tmp_path: Path) -> CertificatePaths:
    return ensure_certificate(make_settings(tmp_path))


def test_creates_local_ca_and_leaf_in_the_data_dir(
    tmp_path: Path, generated: CertificatePaths
) -> None:
    tls_dir = tmp_path / "tls"
    assert generated == CertificatePaths(
        ca_cert=tls_dir / "ca.pem",
        cert=tls_dir / "localhost.pem",
        key=tls_dir / "localhost-key.pem",
        ca_created=True,
    )
    assert (tls_dir / "ca-key.pem").is_file()


@pytest.mark.parametrize(
    "name",
    [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ],
)
def test_leaf_verifies_against_the_ca_for_every_local_name(
    generated: CertificatePaths, name: x509.DNSName | x509.IPAddress
) -> None:
    assert generated.ca_cert is not None
    store = Store([load_cert(generated.ca_cert)])
    verifier = PolicyBuilder().store(store).build_server_verifier(name)
    chain = verifier.verify(load_cert(generated.cert), [])
    assert chain[-1] == load_cert(generated.ca_cert)


def test_leaf_carries_exactly_the_local_names(generated: CertificatePaths) -> None:
    leaf = load_cert(generated.cert)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]


def test_leaf_is_a_short_lived_p256_server_certificate(generated: CertificatePaths) -> None:
    leaf = load_cert(generated.cert)
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    # 825 days is the browsers' cap; sslyze's Mozilla check wants at most 366.
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 366
    extensions = leaf.extensions
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == (
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    )
    usage = extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not (usage.key_cert_sign or usage.crl_sign or usage.key_encipherment)


def test_ca_may_sign_only_leaves_for_ten_years(generated: CertificatePaths) -> None:
    assert generated.ca_cert is not None
    ca = load_cert(generated.ca_cert)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650
    common_name = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == f"Quietshop local development CA {socket.gethostname()}"[:64]


def test_private_keys_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a careless umask must not widen the key files
    try:
        paths = ensure_certificate(make_settings(tmp_path))
    finally:
        os.umask(old_umask)
    assert mode_of(paths.key) == 0o600
    assert mode_of(tmp_path / "tls" / "ca-key.pem") == 0o600
    assert mode_of(tmp_path / "tls") == 0o700
    assert mode_of(paths.cert) == 0o644


def test_ssl_handshake_succeeds_with_the_ca_as_only_trust(generated: CertificatePaths) -> None:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(generated.cert, generated.key)
    client = ssl.create_default_context(cafile=generated.ca_cert)
    assert memory_handshake(client, server, "localhost") == "TLSv1.3"


def memory_handshake(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> str:
    """Run a full TLS handshake between two in-memory endpoints; return the version."""
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    c_in, c_out, s_in, s_out = pipes
    tls_client = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    tls_server = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", tls_client), ("server", tls_server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values())
    version = tls_client.version()
    assert version is not None
    return version


def test_valid_files_are_reused(tmp_path: Path, generated: CertificatePaths) -> None:
    before = {path.name: path.read_bytes() for path in (tmp_path / "tls").iterdir()}
    again = ensure_certificate(make_settings(tmp_path))
    after = {path.name: path.read_bytes() for path in (tmp_path / "tls").iterdir()}
    assert after == before
    assert again.ca_created is False


def test_leaf_near_expiry_is_replaced_and_ca_kept(tmp_path: Path) -> None:
    earlier = NOW - dt.timedelta(days=340)
    first = ensure_certificate(make_settings(tmp_path), clock_at(earlier))
    assert load_cert(first.cert).not_valid_before_utc == earlier - CLOCK_SKEW  # dated by the clock
    old_leaf = first.cert.read_bytes()
    ca_before = (tmp_path / "tls" / "ca.pem").read_bytes()

    # At NOW the leaf expires in ~25 days.
    second = ensure_certificate(make_settings(tmp_path), clock_at(NOW))

    assert second.ca_created is False
    assert (tmp_path / "tls" / "ca.pem").read_bytes() == ca_before
    assert second.cert.read_bytes() != old_leaf
    assert load_cert(second.cert).not_valid_after_utc > NOW + dt.timedelta(days=300)


def test_ca_near_expiry_is_replaced_with_a_new_leaf(tmp_path: Path) -> None:
    first = ensure_certificate(make_settings(tmp_path), clock_at(NOW - dt.timedelta(days=3640)))
    assert first.ca_cert is not None
    old_ca = first.ca_cert.read_bytes()

    second = ensure_certificate(make_settings(tmp_path), clock_at(NOW))

    assert second.ca_created is True
    assert second.ca_cert is not None
    assert second.ca_cert.read_bytes() != old_ca
    assert load_cert(second.ca_cert).not_valid_before_utc == NOW - CLOCK_SKEW
    load_cert(second.cert).verify_directly_issued_by(load_cert(second.ca_cert))


def test_leaf_with_a_foreign_key_is_replaced(tmp_path: Path, generated: CertificatePaths) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    generated.key.write_bytes(stranger)
    again = ensure_certificate(make_settings(tmp_path))
    key = serialization.load_pem_private_key(again.key.read_bytes(), password=None)
    assert load_cert(again.cert).public_key() == key.public_key()
    assert mode_of(again.key) == 0o600


def test_leaf_from_a_lost_ca_is_replaced(tmp_path: Path, generated: CertificatePaths) -> None:
    assert generated.ca_cert is not None
    generated.ca_cert.unlink()
    again = ensure_certificate(make_settings(tmp_path))
    assert again.ca_created is True
    assert again.ca_cert is not None
    load_cert(again.cert).verify_directly_issued_by(load_cert(again.ca_cert))


def test_corrupt_files_are_regenerated(tmp_path: Path, generated: CertificatePaths) -> None:
    generated.cert.write_text("not a certificate")
    again = ensure_certificate(make_settings(tmp_path))
    assert again.ca_created is False
    assert load_cert(again.cert).subject


def test_a_public_host_is_added_to_the_leaf(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_base_url="https://shop.localhost:8443")
    leaf = load_cert(ensure_certificate(settings).cert)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "shop.localhost"]


def test_configured_certificate_is_used_as_is(tmp_path: Path) -> None:
    own = ensure_certificate(make_settings(tmp_path / "elsewhere"))
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, tls_cert=own.cert, tls_key=own.key)
    assert ensure_certificate(settings) == CertificatePaths(None, own.cert, own.key)
    assert not (data_dir / "tls").exists()


def test_missing_configured_file_is_a_clear_error(tmp_path: Path) -> None:
    own = ensure_certificate(make_settings(tmp_path / "elsewhere"))
    missing = tmp_path / "nope.pem"
    settings = make_settings(tmp_path, tls_cert=own.cert, tls_key=missing)
    with pytest.raises(CertificateConfigError, match=r"QUIETSHOP_TLS_KEY: no such file: .*nope"):
        ensure_certificate(settings)


def test_half_a_configuration_is_refused(tmp_path: Path) -> None:
    own = ensure_certificate(make_settings(tmp_path / "elsewhere"))
    with pytest.raises(CertificateConfigError, match="both"):
        ensure_certificate(make_settings(tmp_path, tls_cert=own.cert))


def test_mismatched_configured_key_is_refused(tmp_path: Path) -> None:
    one = ensure_certificate(make_settings(tmp_path / "one"))
    two = ensure_certificate(make_settings(tmp_path / "two"))
    with pytest.raises(CertificateConfigError, match="matching private key"):
        ensure_certificate(make_settings(tmp_path, tls_cert=one.cert, tls_key=two.key))


def test_trust_instructions_name_the_ca_and_the_tools(tmp_path: Path) -> None:
    text = trust_instructions(tmp_path / "tls" / "ca.pem", base_url="https://shop.localhost:9443")
    assert str(tmp_path / "tls" / "ca.pem") in text
    assert "certutil" in text
    assert "update-ca-certificates" in text
    assert "update-ca-trust" in text
    assert f"curl --cacert {tmp_path / 'tls' / 'ca.pem'} https://shop.localhost:9443/" in text
    assert "ca-key.pem private" in text
    assert "Remove the trust" in text


def test_trust_instructions_name_macos_and_windows_steps_with_the_real_ca(tmp_path: Path) -> None:
    ca = (tmp_path / "tls" / "ca.pem").resolve()
    lines = trust_instructions(tmp_path / "tls" / ".." / "tls" / "ca.pem").splitlines()
    headings = [line for line in lines if line and not line.startswith(" ")]
    assert any(line.startswith("Linux") for line in headings)
    assert any(line.startswith("macOS") for line in headings)
    assert any(line.startswith("Windows") and "PowerShell" in line for line in headings)
    commands = [line.strip() for line in lines]
    assert (
        f"sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}"
        in commands
    )
    assert (
        "security add-trusted-cert -r trustRoot"
        f' -k "$HOME/Library/Keychains/login.keychain-db" {ca}' in commands
    )
    assert (
        f"Import-Certificate -FilePath '{ca}' -CertStoreLocation Cert:\\CurrentUser\\Root"
        in commands
    )
    assert f"certutil -user -addstore Root '{ca}'" in commands
    assert any("security.enterprise_roots.enabled" in line for line in lines)


def test_trust_instructions_quote_an_awkward_path_for_each_shell(tmp_path: Path) -> None:
    ca = (tmp_path / "it's my $HOME" / "ca.pem").resolve()
    commands = [line.strip() for line in trust_instructions(ca).splitlines()]
    debian = next(
        line for line in commands if line.startswith("sudo cp ") and "ca-certificates" in line
    )
    assert shlex.split(debian) == [
        "sudo",
        "cp",
        str(ca),
        "/usr/local/share/ca-certificates/quietshop-local-ca.crt",
    ]
    # PowerShell: single quotes expand nothing, and a quote inside is doubled.
    windows = str(ca).replace("'", "''")
    assert f"certutil -user -addstore Root '{windows}'" in commands


def printed_commands(text: str, heading: str) -> list[str]:
    """The command lines printed under ``heading``, up to the next heading; notes left out."""
    lines = text.splitlines()
    start = lines.index(heading)
    indent = " " * (len(heading) - len(heading.lstrip()) + 2)
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith(indent):
            break
        if not line.strip().startswith("("):
            commands.append(line.strip())
    return commands


def nss_certutil() -> str | None:
    # Windows has a certutil.exe of its own, a different tool.
    return None if sys.platform == "win32" else shutil.which("certutil")


@pytest.mark.skipif(
    nss_certutil() is None or shutil.which("bash") is None,
    reason="needs bash and NSS certutil (Debian/Ubuntu: apt-get install libnss3-tools); "
    "CI installs them for this test",
)
def test_printed_linux_chromium_commands_work_from_a_fresh_home(tmp_path: Path) -> None:
    # Spaces in both paths: the printed commands must quote the CA path and $HOME.
    paths = ensure_certificate(make_settings(tmp_path / "data dir"))
    assert paths.ca_cert is not None
    commands = printed_commands(trust_instructions(paths.ca_cert), "  Chromium / Chrome:")
    assert len(commands) == 3
    assert commands[0].startswith("mkdir -p")
    home = tmp_path / "fresh home"
    home.mkdir()  # empty: no browser ever ran here, so there is no NSS database yet
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    script = "set -eu\n" + "\n".join(commands) + "\n"
    for _ in range(2):  # pasted again, with the database now there, they still succeed
        run = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr

    certutil = nss_certutil()
    assert certutil is not None
    nssdb = f"sql:{home / '.pki' / 'nssdb'}"
    listing = subprocess.run(
        [certutil, "-L", "-d", nssdb], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert re.search(rf"^{re.escape(NSS_NICKNAME)}\s+C,,", listing, re.MULTILINE), listing
    exported = subprocess.run(
        [certutil, "-L", "-n", NSS_NICKNAME, "-a", "-d", nssdb],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert x509.load_pem_x509_certificates(exported) == [load_cert(paths.ca_cert)]


# ---------------------------------------------------------------------------------------
# The plain-HTTP redirect port
# ---------------------------------------------------------------------------------------

HTTPS_PORT = 9443
FALLBACK = "https://shop.localhost:8443"


@pytest.fixture(scope="module")
def redirect_port() -> Iterator[int]:
    """A redirect server on a free port, run by an event loop in a background thread."""
    loop = asyncio.new_event_loop()
    sock = socket.create_server(("127.0.0.1", 0))
    start = start_redirect_server("127.0.0.1", 0, HTTPS_PORT, FALLBACK + "/", sock=sock)
    server = loop.run_until_complete(start)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield sock.getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, return everything the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    assert b"set-cookie" not in answer.lower()  # P1, whatever was asked
    return answer


def parse(answer: bytes) -> tuple[int, dict[str, str]]:
    head, sep, body = answer.partition(b"\r\n\r\n")
    assert sep and body == b"", answer
    status_line, *lines = head.decode("ascii").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(": ")
        assert name.lower() not in headers, answer
        headers[name.lower()] = value
    return int(status_line.split(" ")[1]), headers


def location_for(port: int, raw: bytes) -> str:
    status, headers = parse(exchange(port, raw))
    assert status == 301
    assert headers == {
        "location": headers["location"],
        "content-length": "0",
        "connection": "close",
    }
    return headers["location"]


def request(target: str = "/", host: str | None = "localhost:8080", method: str = "GET") -> bytes:
    host_line = "" if host is None else f"Host: {host}\r\n"
    return f"{method} {target} HTTP/1.1\r\n{host_line}User-Agent: t\r\n\r\n".encode("latin-1")


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE", "OPTIONS"])
def test_every_method_is_sent_to_https_with_path_and_query(redirect_port: int, method: str) -> None:
    raw = request("/products/42?q=tea&page=2", method=method)
    assert location_for(redirect_port, raw) == "https://localhost:9443/products/42?q=tea&page=2"


def test_post_with_a_body_still_gets_its_redirect(redirect_port: int) -> None:
    body = b"email=a%40example.com&password=x" * 100
    raw = (
        b"POST /account/login HTTP/1.1\r\nHost: localhost\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    assert location_for(redirect_port, raw) == "https://localhost:9443/account/login"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", "https://localhost:9443/"),
        ("127.0.0.1:8080", "https://127.0.0.1:9443/"),
        ("[::1]:8080", "https://[::1]:9443/"),
        ("Shop.Localhost", "https://Shop.Localhost:9443/"),
    ],
)
def test_host_keeps_its_name_and_gets_the_https_port(
    redirect_port: int, host: str, expected: str
) -> None:
    assert location_for(redirect_port, request(host=host)) == expected


def test_missing_host_uses_the_public_base_url(redirect_port: int) -> None:
    raw = b"GET /privacy?x=1 HTTP/1.0\r\n\r\n"
    assert location_for(redirect_port, raw) == FALLBACK + "/privacy?x=1"


@pytest.mark.parametrize(
    "host",
    [
        "evil.example/@x",
        "evil.example@x",
        "evil.example:80/x",
        "evil.example x",
        "evil.example\rSet-Cookie: a=b",
        "evil.example\tx",
        "évil.example",
        "[not-an-ip]",
        "[::1",
        "evil.example:99999999",
        "",
        "a" * 10 * 1024,
    ],
)
def test_hostile_host_falls_back_to_the_public_base_url(redirect_port: int, host: str) -> None:
    assert location_for(redirect_port, request("/cart", host=host)) == FALLBACK + "/cart"


def test_injected_header_line_is_not_echoed(redirect_port: int) -> None:
    # A literal CRLF ends the Host line: the extra line is just another (ignored) header.
    raw = request("/x", host="localhost\r\nSet-Cookie: a=b")
    assert location_for(redirect_port, raw) == "https://localhost:9443/x"


def test_two_host_headers_fall_back(redirect_port: int) -> None:
    raw = b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"
    assert location_for(redirect_port, raw) == FALLBACK + "/"


def test_oversized_head_falls_back(redirect_port: int) -> None:
    padding = "".join(f"X-Pad-{n}: {'p' * 50}\r\n" for n in range(200))
    raw = f"GET /big HTTP/1.1\r\nHost: localhost\r\n{padding}\r\n".encode()
    assert location_for(redirect_port, raw) == FALLBACK + "/big"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://evil.example/a?b=c", "https://localhost:9443/a?b=c"),
        ("http://evil.example", "https://localhost:9443/"),
        ("*", "https://localhost:9443/"),
        ("localhost:443", "https://localhost:9443/"),
        ("//evil.example/x", "https://localhost:9443//evil.example/x"),
    ],
)
def test_odd_targets_stay_on_our_host(redirect_port: int, target: str, expected: str) -> None:
    assert location_for(redirect_port, request(target, host="localhost")) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GARBAGE\r\n",  # and nothing more: answered at once, not after the timeout
        b"\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / FTP/1.0\r\nHost: localhost\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ],
)
def test_malformed_request_line_gets_400_and_server_carries_on(
    redirect_port: int, raw: bytes
) -> None:
    status, headers = parse(exchange(redirect_port, raw))
    assert status == 400
    assert headers == {"content-length": "0", "connection": "close"}
    assert location_for(redirect_port, request("/after")) == "https://localhost:9443/after"


def test_slow_client_is_cut_off(redirect_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redirect, "CLIENT_TIMEOUT", 0.2)
    with socket.create_connection(("127.0.0.1", redirect_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: loc")  # ...and never finishes
        assert conn.recv(4096) == b""  # closed without an answer, well before our 5 s


def test_port_443_is_left_out_of_location() -> None:
    """Also drives start_redirect_server from the test's own event loop."""

    async def scenario() -> bytes:
        server = await start_redirect_server("127.0.0.1", 0, 443, FALLBACK)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request("/a?b", host="localhost:80"))
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
        return answer

    status, headers = parse(asyncio.run(scenario()))
    assert (status, headers["location"]) == (301, "https://localhost/a?b")
