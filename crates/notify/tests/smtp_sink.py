"""A real SMTP server on loopback for the courier's tests (Debian's python3-aiosmtpd).

Usage: smtp_sink.py PORT USER PASSWORD. Accepts AUTH PLAIN/LOGIN for USER/PASSWORD without
TLS (loopback only), prints "ready" when listening, then one JSON line per message received:
{"mail_from", "rcpt_tos", "data"}. Runs until stdin closes.
"""
import json
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, user, password = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
    return AuthResult(success=ok)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }), flush=True)
        return "250 OK"


controller = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                        auth_require_tls=False)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
