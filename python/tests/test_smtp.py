"""SMTP channel end to end against a real SMTP server (aiosmtpd) on 127.0.0.1 with a trustme CA.

The client trusts the test CA through SSL_CERT_FILE, which OpenSSL reads each time
ssl.create_default_context() loads the default verify paths.
"""

from __future__ import annotations

import logging
import ssl

import pytest
import trustme

from mcp_push import plan, send

from .smtp_server import Recorder, SilentServer, SmtpServer, closed_port

USER = "bot+push@x.test"
PASSWORD = "p@ss:w/rd %?#&=1"  # every character that must survive the smtp://user:password@ URL


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def _trust(ca, path, monkeypatch) -> None:
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))


@pytest.fixture
def smtp(ca, tmp_path, monkeypatch):
    """start(mode, **recorder options) -> a running SmtpServer whose certificate the client trusts."""
    _trust(ca, tmp_path / "ca.pem", monkeypatch)
    started: list[SmtpServer] = []

    def start(mode: str, **options) -> SmtpServer:
        server = SmtpServer(mode, Recorder(USER, PASSWORD, **options), ca.issue_cert("127.0.0.1")).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def push(address: str, title: str = "title", content: str = "content", **env):
    config = {"SMTP_SERVER": address, "SMTP_EMAIL": USER, "SMTP_PASSWORD": PASSWORD, **env}
    return send(title, content, **config)["smtp"]


def test_trust_setup_really_uses_ssl_cert_file(ca, tmp_path, monkeypatch):
    """The premise of every TLS test here: the transport's default context trusts exactly the test CA."""
    _trust(ca, tmp_path / "ca.pem", monkeypatch)
    loaded = ssl.create_default_context().get_ca_certs(binary_form=True)
    assert loaded == [ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())]


def test_implicit_tls_delivers_one_authenticated_message_with_text_and_html(smtp):
    server = smtp("implicit")
    title = "部署完成 ✅ Deploy"
    content = 'line <b>1</b> & "quoted"\n第二行 🚀'
    result = push(server.address, title, content, SMTP_SSL="true", SMTP_NAME="Bot 机器人")

    assert (result.ok, result.status, result.http_status, result.error) == (True, "delivered", 250, None)
    recorder = server.recorder
    assert [(a.login, a.password, a.over_tls) for a in recorder.auths] == [(USER, PASSWORD, True)]
    assert recorder.auths[0].mechanism in {"LOGIN", "PLAIN"}
    [received] = recorder.received
    assert (received.mail_from, received.rcpt_tos, received.over_tls) == (USER, [USER], True)
    message = received.message
    assert message["Subject"] == title
    assert message["From"].addresses[0].display_name == "Bot 机器人"
    assert message["From"].addresses[0].addr_spec == USER
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text == content + "\n"  # MIME text parts end with a line break
    assert html == "line &lt;b&gt;1&lt;/b&gt; &amp; &quot;quoted&quot;<br/>第二行 🚀\n"


def test_plain_smtp_upgrades_with_starttls_before_auth_and_delivers(smtp):
    server = smtp("starttls")  # requires STARTTLS first and refuses AUTH without TLS
    result = push(server.address)
    assert (result.ok, result.status) == (True, "delivered")
    assert server.recorder.events == ["STARTTLS", "AUTH", "DATA"]
    assert server.recorder.auths[0].over_tls and server.recorder.received[0].over_tls


def test_server_without_tls_gets_no_password_unless_plaintext_is_allowed(smtp):
    # Without TLS on offer (a plain relay, or STARTTLS stripped in transit) the password stays home.
    server = smtp("plain")
    result = push(server.address)
    assert (result.ok, result.status) == (False, "config_error")
    assert "SMTP_ALLOW_PLAINTEXT" in result.error
    assert server.recorder.auths == [] and server.recorder.received == []


def test_server_without_starttls_delivers_when_plaintext_is_allowed(smtp):
    server = smtp("plain")  # no TLS; allows AUTH in the clear
    result = push(server.address, SMTP_ALLOW_PLAINTEXT="true")
    assert (result.ok, result.status) == (True, "delivered")
    assert server.recorder.events == ["AUTH", "DATA"]
    assert [(a.login, a.password, a.over_tls) for a in server.recorder.auths] == [(USER, PASSWORD, False)]
    assert server.recorder.received[0].over_tls is False


@pytest.mark.parametrize(("mode", "events"), [("plain", ["DATA"]), ("starttls", ["STARTTLS", "DATA"])])
def test_relay_that_needs_no_login_gets_no_auth_when_no_password_is_set(smtp, mode, events):
    # A local relay (postfix on the host, a LAN smarthost) takes mail without AUTH: no SMTP_PASSWORD,
    # no AUTH command, and no refusal for the missing TLS either (there is no password to protect).
    server = smtp(mode)
    result = send("t", "c", SMTP_SERVER=server.address, SMTP_EMAIL=USER)["smtp"]
    assert (result.ok, result.status, result.error) == (True, "delivered", None)
    assert server.recorder.events == events  # the authenticator was never asked: no AUTH was sent
    assert server.recorder.auths == []
    [received] = server.recorder.received
    assert (received.mail_from, received.rcpt_tos) == (USER, [USER])


def test_title_with_unicode_line_breaks_arrives_as_one_line_subject(smtp):
    # Python's e-mail library refuses VT, FF, NEL, U+2028 ... in a header: the title is folded first.
    server = smtp("starttls")
    result = push(server.address, "a\vb\fc\x85d\u2028e\u2029f\x1cg\r\nh")
    assert (result.ok, result.status) == (True, "delivered"), result.error
    assert server.recorder.received[0].message["Subject"] == "a b c d e f g h"


def test_password_is_not_sent_in_clear_when_server_only_allows_auth_over_tls(smtp):
    server = smtp("plain_auth_needs_tls")  # no STARTTLS offered and no AUTH advertised without TLS
    result = push(server.address, SMTP_ALLOW_PLAINTEXT="true")
    assert (result.ok, result.status) == (False, "config_error")
    assert "offers no AUTH" in result.error
    assert server.recorder.auths == [] and server.recorder.received == []
    assert PASSWORD not in str(result.to_dict())


def test_non_ascii_credentials_log_in_as_utf8_auth_plain(ca, tmp_path, monkeypatch):
    # smtplib alone would raise UnicodeEncodeError; nodemailer sends UTF-8, so must we.
    _trust(ca, tmp_path / "ca.pem", monkeypatch)
    password = "pässwörd 密码"
    server = SmtpServer("starttls", Recorder(USER, password), ca.issue_cert("127.0.0.1")).start()
    try:
        result = send("t", "c", SMTP_SERVER=server.address, SMTP_EMAIL=USER, SMTP_PASSWORD=password)["smtp"]
    finally:
        server.stop()
    assert (result.ok, result.status) == (True, "delivered")
    assert [(a.mechanism, a.password, a.over_tls) for a in server.recorder.auths] == [("PLAIN", password, True)]


def test_wrong_password_is_rejected_with_the_servers_535(smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="mcp_push")
    server = smtp("starttls")
    result = push(server.address, SMTP_PASSWORD="wrong-secret-42")
    assert (result.ok, result.status, result.http_status) == (False, "rejected", 535)
    assert "Authentication credentials invalid" in result.error
    assert server.recorder.received == []
    assert {a.password for a in server.recorder.auths} == {"wrong-secret-42"}  # it was really sent
    assert "wrong-secret-42" not in str(result.to_dict())
    assert "wrong-secret-42" not in caplog.text
    assert "rejected" in caplog.text  # the failure itself is logged


def test_password_echoed_back_by_the_server_is_masked_in_result_and_logs(smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="mcp_push")
    server = smtp("starttls", echo_credentials=True)
    result = push(server.address, SMTP_PASSWORD="wrong-secret-42")
    assert (result.status, result.http_status) == ("rejected", 535)
    assert "bad login" in result.error and "***" in result.error  # the reply did carry it, masked
    assert "wrong-secret-42" not in str(result.to_dict())
    assert "wrong-secret-42" not in caplog.text


@pytest.mark.parametrize("mode, ssl_flag", [("implicit", "true"), ("starttls", "false")])
def test_certificate_from_an_untrusted_ca_is_refused(smtp, mode, ssl_flag, tmp_path, monkeypatch):
    server = smtp(mode)
    _trust(trustme.CA(), tmp_path / "other-ca.pem", monkeypatch)
    result = push(server.address, SMTP_SSL=ssl_flag)
    assert (result.ok, result.status) == (False, "network_error")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert server.recorder.auths == [] and server.recorder.received == []


def test_email_to_lists_every_recipient_split_on_ascii_and_fullwidth_semicolons(smtp):
    server = smtp("starttls")
    result = push(server.address, SMTP_EMAIL_TO="a@x.test;b@x.test；c@x.test")
    assert result.ok
    [received] = server.recorder.received
    assert received.rcpt_tos == ["a@x.test", "b@x.test", "c@x.test"]
    assert [a.addr_spec for a in received.message["To"].addresses] == ["a@x.test", "b@x.test", "c@x.test"]


def test_recipient_defaults_to_the_sender(smtp):
    server = smtp("starttls")
    assert push(server.address).ok
    assert server.recorder.received[0].rcpt_tos == [USER]


def test_unreachable_server_is_a_network_error_without_the_password():
    result = push(f"127.0.0.1:{closed_port()}")
    assert (result.ok, result.status, result.http_status) == (False, "network_error", None)
    assert result.error.startswith("SMTP connection failed: ") and "Connection refused" in result.error
    assert PASSWORD not in result.error and "rd%20%25" not in result.error


@pytest.mark.parametrize(
    "ssl_flag, greeting",
    [("false", b""), ("false", b"220 mx.test ESMTP\r\n"), ("true", b"")],
    ids=["no-greeting", "greets-then-ignores-ehlo", "no-tls-handshake"],
)
def test_server_that_never_answers_times_out_within_mcp_push_timeout(ssl_flag, greeting):
    silent = SilentServer(greeting).start()
    try:
        # The server holds the connection until stop(), after the send: only the timeout can have ended it.
        result = push(silent.address, SMTP_SSL=ssl_flag, MCP_PUSH_TIMEOUT="0.5")
    finally:
        silent.stop()
    assert silent.accepted == 1  # the connection was made; the silence is what timed out
    assert (result.ok, result.status) == (False, "timeout")
    assert result.error.startswith("SMTP server gave no reply within 0.5 s")
    assert PASSWORD not in result.error


def test_smtp_service_resolves_a_well_known_provider():
    env = {"SMTP_SERVICE": "QQ", "SMTP_EMAIL": "me@qq.com", "SMTP_PASSWORD": "auth-code"}
    [entry] = plan("t", "c", env=env, redact=False)
    assert entry["url"] == "smtps://me%40qq.com:auth-code@smtp.qq.com:465"
    assert entry["body"]["to"] == ["me@qq.com"]
