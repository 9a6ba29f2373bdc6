"""Where an alert came from: the registered SMS forwarders, and DKIM for e-mail.

A bank e-mail counts only with a valid DKIM signature whose signing domain (``d=``) is one
of the configured bank domains and matches the From address; anything else is kept for
staff (the manual queue), never credited automatically. ``dnsfunc`` is dkimpy's DNS lookup
(``name -> TXT record bytes``): production leaves it at dkimpy's resolver, tests supply keys.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

import dkim

from deposits.templates import TemplateBook

DnsFunc = Callable[..., bytes | None]

# "From: FNB" on the first line: a GSM modem's forwarding app names the bank's sender id.
_FORWARDED = re.compile(r"\AFrom:\s*(\S+)\s*\n")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert as received, with what is known of its origin."""

    source: str  # sms or email
    sender: str  # the forwarder's number (SMS) or the From address (e-mail)
    sender_id: str  # the bank's SMS sender id, or the e-mail's From domain
    text: str
    authentic: bool
    reason: str = ""


def sms_alert(forwarder: str, text: str, forwarders: frozenset[str]) -> IncomingAlert:
    """An SMS handed over by Kannel: ``forwarder`` is its ``%p``. A modem's forwarding app
    puts ``From: SENDERID`` on the first line; a bank reaching us directly is its own
    sender id."""
    forwarder = forwarder.strip()
    found = _FORWARDED.match(text)
    sender_id, body = (found.group(1), text[found.end() :]) if found else (forwarder, text)
    authentic = forwarder.upper() in forwarders
    return IncomingAlert(
        source="sms",
        sender=forwarder,
        sender_id=sender_id,
        text=body.strip(),
        authentic=authentic,
        reason="" if authentic else f"SMS from {forwarder}, not a registered forwarder",
    )


def email_alert(raw: bytes, book: TemplateBook, dnsfunc: DnsFunc | None = None) -> IncomingAlert:
    """An e-mail as fetched (the whole RFC 5322 message)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    from_address = email.utils.parseaddr(str(message.get("From", "")))[1].lower()
    domain = from_address.rpartition("@")[2]
    text = _text_of(message)
    authentic, reason = _dkim_ok(raw, domain, book, dnsfunc)
    return IncomingAlert("email", from_address, domain, text, authentic, reason)


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _dkim_ok(
    raw: bytes, from_domain: str, book: TemplateBook, dnsfunc: DnsFunc | None
) -> tuple[bool, str]:
    template = book.for_domain(from_domain)
    if template is None:
        return False, f"mail from {from_domain or 'nobody'}, not a configured bank domain"
    verifier = dkim.DKIM(raw)
    try:
        valid = verifier.verify(dnsfunc=dnsfunc) if dnsfunc else verifier.verify()
    except dkim.DKIMException as exc:
        return False, f"DKIM check failed: {exc}"
    if not valid:
        return False, "no valid DKIM signature"
    signer = (verifier.domain or b"").decode("ascii", "replace").lower()
    if signer not in template.email_domains or not (
        from_domain == signer or from_domain.endswith("." + signer)
    ):
        return False, f"DKIM signed by {signer}, not by the bank's domain {from_domain}"
    return True, ""
