"""The shipped deployment: Debian's nginx with deploy/nginx/livechat.conf in front of
``livechat serve`` in production mode, chatted through over WebSockets; and the systemd
unit, checked by systemd-analyze.

nginx runs the site file as shipped but for where it listens and which certificate it
shows: loopback ports of its own instead of 80 and 443, so that a system nginx is never in
the way, and a certificate from a throwaway authority that the test's clients trust.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.status import WS_1008_POLICY_VIOLATION
from websockets.asyncio.client import connect

from livechat.accounts.auth import SESSION_COOKIE
from livechat.chat.attachments import MAX_PENDING
from livechat.settings import Settings
from tests.helpers import PASSWORD, csrf_token, sqlite_url, submit
from tests.live import Client, free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNIT = DEPLOY / "livechat.service"
SITE = DEPLOY / "nginx" / "livechat.conf"
# This virtualenv's entry point, as /opt/livechat/bin/livechat is in production.
LIVECHAT = Path(sys.executable).with_name("livechat")
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def required(program: str, package: str) -> str:
    """Where the program is; without it, a skip that says why, or a failure in CI, where a
    skipped deployment test would go unnoticed."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        reason = f"{program} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI must run the deployment tests")
        pytest.skip(reason)
    return found


@dataclass(frozen=True)
class Certificate:
    """What certbot leaves for nginx, and a client context that trusts its issuer alone."""

    fullchain: Path
    privkey: Path
    trust: ssl.SSLContext


def _signed(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def issue_certificate(directory: Path) -> Certificate:
    """A certificate for the loopback address, from an authority made for the occasion
    with the extensions that strict verification (Python 3.13's default) asks for."""
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livechat test CA")])
    signs_certificates = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    authority = _signed(
        authority_name,
        authority_key.public_key(),
        authority_name,
        authority_key,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (signs_certificates, True),
            (x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), False),
        ],
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _signed(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]),
        server_key.public_key(),
        authority_name,
        authority_key,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
                False,
            ),
        ],
    )

    pem = serialization.Encoding.PEM
    fullchain = directory / "fullchain.pem"
    fullchain.write_bytes(server.public_bytes(pem) + authority.public_bytes(pem))
    privkey = directory / "privkey.pem"
    privkey.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    trust = ssl.create_default_context(cadata=authority.public_bytes(pem).decode())
    return Certificate(fullchain, privkey, trust)


def localised(site: str, *, upstream: int, http: int, https: int, certificate: Certificate) -> str:
    """The shipped site, on loopback ports of its own, with the test's certificate and
    livechat; every other line as shipped."""
    changes = {
        f"server {LOOPBACK}:8000;": f"server {LOOPBACK}:{upstream};",
        "listen 80;": f"listen {LOOPBACK}:{http};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen {LOOPBACK}:{https} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/letsencrypt/live/chat.example.org/fullchain.pem": str(certificate.fullchain),
        "/etc/letsencrypt/live/chat.example.org/privkey.pem": str(certificate.privkey),
    }
    for shipped, local in changes.items():
        assert site.count(shipped) == 1, f"the site no longer has {shipped!r} once: update this"
        site = site.replace(shipped, local)
    return site


def nginx_conf(directory: Path, site: Path) -> Path:
    """A main configuration in the manner of Debian's, with every path nginx writes inside
    ``directory``."""
    # Run as root, nginx hands requests to workers of an unprivileged user, who could not
    # write request bodies into the test's private temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(f"""
        {user}
        worker_processes 1;
        pid {directory}/nginx.pid;
        error_log stderr warn;
        events {{
            worker_connections 64;
        }}
        http {{
            access_log {directory}/access.log;
            client_body_temp_path {directory}/client_body;
            proxy_temp_path {directory}/proxy;
            fastcgi_temp_path {directory}/fastcgi;
            uwsgi_temp_path {directory}/uwsgi;
            scgi_temp_path {directory}/scgi;
            include {site};
        }}
    """)
    return conf


@contextmanager
def running(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The command, its output in ``log``, stopped however the test ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, trust: ssl.SSLContext | None = None
) -> None:
    """Poll until ``url`` answers 200; fail with the process's log should it exit first
    or take too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(verify=trust or True, timeout=2.0) as http:
        while True:
            if process.poll() is not None:
                pytest.fail(f"{log.stem} exited with {process.returncode}:\n{log.read_text()}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer 200 in {START_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.05)


@dataclass(frozen=True)
class Deployment:
    """nginx in front of livechat: its https and http addresses, and a client context
    that trusts its certificate."""

    https: str
    http: str
    trust: ssl.SSLContext

    @property
    def wss(self) -> str:
        return self.https.replace("https://", "wss://", 1)

    @asynccontextmanager
    async def person(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        """A browser in which someone new has just registered, through nginx."""
        async with httpx.AsyncClient(base_url=self.https, verify=self.trust) as browser:
            details = {
                "email": f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com",
                "display_name": name,
                "password": PASSWORD,
            }
            registered = await submit(browser, "/users/register", details, page="/users/register")
            assert registered.status_code == 303, registered.text
            yield browser

    @asynccontextmanager
    async def socket(
        self, browser: httpx.AsyncClient, path: str, origin: str
    ) -> AsyncIterator[Client]:
        """The socket a page of ``origin`` opens from ``browser``."""
        headers = {
            "Origin": origin,
            "Cookie": f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}",
        }
        async with connect(
            f"{self.wss}{path}", ssl=self.trust, additional_headers=headers
        ) as connection:
            yield Client(connection)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    nginx = required("nginx", "nginx")
    directory = tmp_path_factory.mktemp("deployment")
    certificate = issue_certificate(directory)
    upstream, http, https = free_port(), free_port(), free_port()
    environment = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LIVECHAT_ENV": "production",
        "LIVECHAT_SECRET_KEY": secrets.token_urlsafe(48),
        "LIVECHAT_DATABASE_URL": sqlite_url(directory / "livechat.db"),
        "LIVECHAT_UPLOADS_DIR": str(directory / "uploads"),
    }
    serve = [str(LIVECHAT), "serve", "--host", LOOPBACK, "--port", str(upstream)]
    site = directory / "livechat.conf"
    site.write_text(
        localised(
            SITE.read_text(), upstream=upstream, http=http, https=https, certificate=certificate
        )
    )
    proxy = [nginx, "-e", "stderr", "-p", str(directory), "-c", str(nginx_conf(directory, site))]

    with ExitStack() as stack:
        log = directory / "livechat.log"
        livechat = stack.enter_context(running(serve, log, environment))
        wait_until_healthy(f"http://{LOOPBACK}:{upstream}/healthz", livechat, log)
        log = directory / "nginx.log"
        nginx_process = stack.enter_context(running([*proxy, "-g", "daemon off;"], log))
        wait_until_healthy(
            f"https://{LOOPBACK}:{https}/healthz", nginx_process, log, certificate.trust
        )
        yield Deployment(
            f"https://{LOOPBACK}:{https}", f"http://{LOOPBACK}:{http}", certificate.trust
        )


@asynccontextmanager
async def room(deployment: Deployment, owner: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser of someone new, and the path of the room they have just created."""
    async with deployment.person(owner) as browser:
        created = await submit(browser, "/rooms", {"name": f"{owner}'s room"}, page="/rooms")
        assert created.status_code == 303, created.text
        yield browser, created.headers["location"]


async def test_plain_http_is_sent_to_https(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.http) as http:
        response = await http.get("/rooms?q=proxy")

    assert response.status_code == 301
    assert response.headers["location"] == f"https://{LOOPBACK}/rooms?q=proxy"


async def test_two_people_chat_through_nginx_over_websockets(deployment: Deployment) -> None:
    async with room(deployment, "Alice") as (alice, path), deployment.person("Bob") as bob:
        joined = await submit(bob, f"{path}/join", {}, page="/rooms")
        assert joined.status_code == 303, joined.text
        shown = await bob.get(path)
        assert shown.status_code == 200
        assert f'ws-connect="{path}/ws"' in shown.text
        assert shown.headers["strict-transport-security"].startswith("max-age=")

        async with (
            deployment.socket(alice, f"{path}/ws", deployment.https) as alice_page,
            deployment.socket(bob, f"{path}/ws", deployment.https) as bob_page,
        ):
            for page in (alice_page, bob_page):
                await page.catch_up(0, 0)
                await page.expect('id="presence"')
            await alice_page.say("Hello through nginx")

            await bob_page.expect("Hello through nginx")
            await alice_page.expect('id="message-form"')


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        # The same host and port, but a page served over http: refused only because
        # nginx's X-Forwarded-Proto told livechat that its pages come over https.
        "http://{host}",
    ],
    ids=["another site", "this site over http"],
)
async def test_pages_of_other_origins_are_refused(deployment: Deployment, origin: str) -> None:
    origin = origin.format(host=deployment.https.removeprefix("https://"))
    async with (
        room(deployment, "Carol") as (carol, path),
        deployment.socket(carol, f"{path}/ws", origin) as page,
    ):
        code, _reason = await page.expect_closed()

    assert code == WS_1008_POLICY_VIOLATION
    assert "not allowed to connect here" in "".join(page.seen)


async def test_the_largest_upload_livechat_takes_passes_nginx(deployment: Deployment) -> None:
    largest = Settings.model_fields["upload_max_bytes"].default
    names = [f"notes {number}.txt" for number in range(1, MAX_PENDING + 1)]
    async with room(deployment, "Dan") as (dan, path):
        uploaded = await dan.post(
            f"{path}/uploads",
            files=[("attachment", (name, b"a" * largest, "text/plain")) for name in names],
            headers={"X-CSRF-Token": await csrf_token(dan, path)},
        )

    assert uploaded.status_code == 200, uploaded.text
    assert all(name in uploaded.text for name in names)


def test_nginx_forwards_to_where_the_unit_serves() -> None:
    exec_start = re.search(r"^ExecStart=(.+)$", UNIT.read_text(), re.MULTILINE)
    upstream = re.search(r"^\s*server ([\d.]+):(\d+);", SITE.read_text(), re.MULTILINE)
    assert exec_start is not None
    assert upstream is not None
    command = shlex.split(exec_start.group(1))

    assert command[:2] == ["/opt/livechat/bin/livechat", "serve"]
    assert command[command.index("--host") + 1] == upstream.group(1)
    assert command[command.index("--port") + 1] == upstream.group(2)


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = required("systemd-analyze", "systemd")
    # verify insists that ExecStart's program exists: this virtualenv's stands in for it.
    installed = "/opt/livechat/bin/livechat"
    unit = UNIT.read_text()
    assert unit.count(installed) == 1
    checked = tmp_path / UNIT.name
    checked.write_text(unit.replace(installed, str(LIVECHAT)))

    result = subprocess.run(  # noqa: S603
        [analyze, "verify", "--recursive-errors=no", str(checked)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert [line for line in output.splitlines() if UNIT.name in line] == []
