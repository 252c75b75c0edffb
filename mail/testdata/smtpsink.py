"""SMTP sink for the tests of package mail.

aiosmtpd (Debian python3-aiosmtpd) on 127.0.0.1, on a port the system
picks, printed as "LISTENING <port>" on stdout. Every accepted message is
stored in a Maildir. Options make it require AUTH, offer and require
STARTTLS, speak implicit TLS, or refuse some recipients. It exits when
its stdin is closed or it is killed.
"""
import argparse
import asyncio
import ssl
import sys
import threading
import warnings

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink(Mailbox):
    """A Maildir handler that refuses recipients containing a marker."""

    def __init__(self, maildir, refuse):
        super().__init__(maildir)
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and self.refuse in address:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    # Requiring AUTH without TLS is what the tests want; do not warn.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    p = argparse.ArgumentParser()
    p.add_argument("--maildir", required=True)
    p.add_argument("--refuse", default="")
    p.add_argument("--auth", default="", help="user:password; AUTH is then required")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()

    handler = Sink(a.maildir, a.refuse)
    kw = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            # handled=False: aiosmtpd itself answers 535 on failure.
            return AuthResult(success=ok, handled=False)

        kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    if a.starttls:
        kw.update(tls_context=tls_context(*a.starttls), require_starttls=True)
    server_ssl = tls_context(*a.smtps) if a.smtps else None

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, hostname="sink.test", loop=loop, **kw)

    server = loop.run_until_complete(
        loop.create_server(factory, host="127.0.0.1", port=0, ssl=server_ssl))
    print("LISTENING %d" % server.sockets[0].getsockname()[1], flush=True)

    def watch_stdin():
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()
