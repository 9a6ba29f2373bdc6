"""OpenPGP for stock files: python-gnupg driving Debian's ``gpg`` in a dedicated home.

The home (``vouchers.gnupg_home``) holds the operator's decryption key and the suppliers'
public keys, never anybody's personal keyring. Signatures are checked against the
supplier's pinned fingerprint from the database, not gpg's web of trust, so the home runs
with ``--trust-model always``; nothing is ever fetched from a keyserver.

Decrypted data stays in memory. python-gnupg logs the first bytes of every chunk it reads
at DEBUG, which for a stock file are PINs: a filter on its logger drops those records.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import gnupg

from vending.errors import VendingError

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `sudo apt-get install gnupg` (or `make sysdeps`)"


class GnupgMissing(VendingError):
    """GnuPG is not installed."""

    code = "gnupg_missing"


class GnupgError(VendingError):
    """A key operation in the stock-file keyring failed."""

    code = "gnupg_error"


class StockFileUnreadable(VendingError):
    """The stock file does not decrypt (wrong key, truncated or tampered)."""

    code = "stock_file_unreadable"


class SignatureRefused(VendingError):
    """The stock file's signature is missing, bad, or not the supplier's."""

    code = "signature_refused"


class _DropDecryptedChunks(logging.Filter):
    """python-gnupg logs ``chunk: <first 256 bytes>`` of decrypted output at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not message.startswith(("chunk:", "verify_data:"))


_gnupg_log = logging.getLogger("gnupg")
if not any(isinstance(f, _DropDecryptedChunks) for f in _gnupg_log.filters):
    _gnupg_log.addFilter(_DropDecryptedChunks())


@dataclass(frozen=True)
class Decrypted:
    """A decrypted message and what gpg said about its signatures."""

    plaintext: bytes = field(repr=False)
    # Primary-key fingerprints of the valid signatures.
    valid_signers: tuple[str, ...]
    # Signatures that did not verify: "bad", "no public key", "expired key", ...
    bad_signatures: tuple[str, ...]


@dataclass(frozen=True)
class PublicKey:
    fingerprint: str
    user_ids: tuple[str, ...]
    armored: str = field(repr=False)


def gpg_binary() -> str:
    """Path of the gpg binary; raises GnupgMissing naming the package to install."""
    found = shutil.which("gpg")
    if found is None:
        raise GnupgMissing(f"GnuPG (gpg) is not installed: {INSTALL_HINT}")
    return found


def _status_lines(stderr: str) -> list[tuple[str, list[str]]]:
    """The ``[GNUPG:]`` status lines of a gpg run (python-gnupg sends them to stderr)."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, *args = line[len("[GNUPG:] ") :].split()
            lines.append((keyword, args))
    return lines


class StockGpg:
    """The dedicated GnuPG home of the stock-file keys."""

    OPTIONS = ("--trust-model", "always", "--no-auto-key-retrieve", "--pinentry-mode", "loopback")

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.binary = gpg_binary()
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        # gpg refuses (warns about) a home others can read; it holds a private key.
        self.home.chmod(0o700)
        try:
            self._gpg = gnupg.GPG(
                gpgbinary=self.binary, gnupghome=str(self.home), options=list(self.OPTIONS)
            )
        except (OSError, ValueError) as exc:
            raise GnupgMissing(f"cannot run gpg ({exc}): {INSTALL_HINT}") from exc
        self._gpg.encoding = "utf-8"

    # --- keys -----------------------------------------------------------------------------

    def secret_key_fingerprints(self) -> list[str]:
        return [key["fingerprint"] for key in self._gpg.list_keys(secret=True)]

    def generate_key(self, user_id: str) -> str:
        """A new unprotected ed25519 (sign) + cv25519 (encrypt) key pair; its fingerprint.

        Unprotected because imports run unattended; the home's permissions and the
        machine protect it (as for the master key file).
        """
        base = [self.binary, "--homedir", str(self.home), "--batch", "--status-fd", "1"]
        base += ["--pinentry-mode", "loopback", "--passphrase", ""]
        created = self._run([*base, "--quick-gen-key", user_id, "ed25519", "sign", "0"])
        fingerprint = next(
            (args[1] for keyword, args in _status_lines(created) if keyword == "KEY_CREATED"),
            None,
        )
        if fingerprint is None:
            raise GnupgError(f"gpg did not create a key for {user_id!r}")
        self._run([*base, "--quick-add-key", fingerprint, "cv25519", "encr", "0"])
        return fingerprint

    def _run(self, command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise GnupgError(f"gpg failed: {result.stderr.strip()[-300:]}")
        # The status lines of --status-fd 1 arrive on stdout with the "[GNUPG:]" prefix.
        return result.stdout

    def export_public_key(self, fingerprint: str) -> str:
        armored = self._gpg.export_keys(fingerprint)
        if not armored:
            raise GnupgError(f"no key {fingerprint} in {self.home}")
        return str(armored)

    def inspect_public_key(self, armored: str) -> PublicKey:
        """The one public key in ``armored``, without importing it."""
        keys = self._gpg.scan_keys_mem(armored)
        if any(key.get("type") == "sec" for key in keys):
            raise GnupgError("that is a private key: give only the supplier's public key")
        public = [key for key in keys if key.get("type") == "pub"]
        if len(public) != 1:
            raise GnupgError(f"expected exactly one public key, found {len(public)}")
        return PublicKey(public[0]["fingerprint"], tuple(public[0].get("uids", ())), armored)

    def import_public_key(self, armored: str) -> str:
        key = self.inspect_public_key(armored)
        result = self._gpg.import_keys(armored)
        if key.fingerprint not in (result.fingerprints or []):
            raise GnupgError(f"gpg did not import key {key.fingerprint}")
        return key.fingerprint

    # --- messages -------------------------------------------------------------------------

    def decrypt(self, message: bytes) -> Decrypted:
        """Decrypt with the operator's key; raises StockFileUnreadable unless gpg decrypted
        an integrity-protected message completely."""
        result = self._gpg.decrypt(message)
        status = _status_lines(result.stderr or "")
        keywords = {keyword for keyword, _args in status}
        if "NO_SECKEY" in keywords and "DECRYPTION_OKAY" not in keywords:
            raise StockFileUnreadable(
                "the file is not encrypted to this server's stock key (see `evd stock keygen`)"
            )
        if "BEGIN_DECRYPTION" not in keywords and "DECRYPTION_OKAY" not in keywords:
            raise StockFileUnreadable("the file is not an OpenPGP-encrypted message")
        if "BADSIG" in keywords:
            # gpg stops at a bad signature; the signed content was altered after signing.
            raise SignatureRefused("the file's signature is bad: its content was altered")
        if (
            "DECRYPTION_OKAY" not in keywords
            or keywords & {"DECRYPTION_FAILED", "BADMDC"}
            or result.returncode not in (0, 1, 2)
        ):
            raise StockFileUnreadable(
                "the file does not decrypt: it is truncated, damaged or was tampered with"
            )
        valid, bad = [], []
        for keyword, args in status:
            if keyword == "VALIDSIG" and len(args) >= 10:
                valid.append(args[9])  # the primary key's fingerprint
            elif keyword in ("BADSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
                bad.append(keyword.lower())
            elif keyword == "ERRSIG":
                reason = args[5] if len(args) > 5 else ""
                bad.append("no public key" if reason == "9" else "unverifiable")
        return Decrypted(bytes(result.data), tuple(valid), tuple(bad))

    def encrypt(
        self, plaintext: bytes, recipient: str, *, sign_with: str | None = None, armor: bool = False
    ) -> bytes:
        """Encrypt to ``recipient`` (and sign): what a supplier's tooling does."""
        result = self._gpg.encrypt(
            plaintext, [recipient], sign=sign_with, armor=armor, always_trust=True
        )
        if not result.ok:
            raise GnupgError(f"gpg could not encrypt: {result.status}")
        return bytes(result.data)

    def __enter__(self) -> StockGpg:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop this home's gpg-agent. Commands do so when done: no daemon keeps the
        unprotected stock key in memory after an import, and gpg starts it again on use."""
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
            timeout=30,
        )


def check_signature(decrypted: Decrypted, *, fingerprint: str | None, required: bool) -> str | None:
    """Apply the supplier's signature policy; the verified signer's fingerprint or None.

    With a pinned key, every signature must be a valid one by that key; without one,
    signatures cannot be checked and are ignored (only allowed when not required).
    """
    if fingerprint is None:
        if required:
            raise SignatureRefused("the supplier requires signatures but has no key on file")
        return None
    if decrypted.bad_signatures:
        raise SignatureRefused(
            f"the file's signature does not verify ({', '.join(decrypted.bad_signatures)})"
        )
    others = [signer for signer in decrypted.valid_signers if signer != fingerprint]
    if others:
        raise SignatureRefused(
            f"the file is signed by {others[0]}, not by the supplier's key {fingerprint}"
        )
    if decrypted.valid_signers:
        return fingerprint
    if required:
        raise SignatureRefused("the file is not signed, and the supplier's files must be")
    return None
