"""A software authenticator for the passkey tests: an EC P-256 key (``cryptography``) that
answers the shop's options as a browser and a platform authenticator would, in the JSON
form the back office sends (bytes as base64url).

Registration builds an attestation object of format "none" (CBOR, with ``cbor2``) around
authenticator data that holds the new credential's COSE key; an assertion is
authenticator data and an ECDSA-SHA256 signature over it and the SHA-256 of the client
data. Every part a browser or authenticator fills in can be given otherwise, so a test can
answer as a phishing page, a cloned key or a careless authenticator would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

USER_PRESENT = 0x01
USER_VERIFIED = 0x04
ATTESTED_DATA = 0x40
# An all-zero AAGUID: what an authenticator sends when it tells nothing about itself.
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "===")


def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": b64url(challenge), "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


@dataclass
class SoftwareAuthenticator:
    """One passkey, made by ``create`` and used by ``get``; ``counts``: whether its
    signature counter goes up with each use (some authenticators always send 0)."""

    origin: str
    rp_id: str
    counts: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes | None = None

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, rp_id: str, flags: int, count: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count)
        if attested:
            data += AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_key()
        return data

    def _credential(self, response: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        flags: int = USER_PRESENT | USER_VERIFIED,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.create({publicKey: options})`` answers."""
        self.user_handle = from_b64url(options["user"]["id"])
        signed = challenge if challenge is not None else from_b64url(options["challenge"])
        client_data = _client_data("webauthn.create", signed, origin or self.origin)
        auth_data = self._auth_data(
            rp_id or options["rp"]["id"], flags | ATTESTED_DATA, self.sign_count, attested=True
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential(
            {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        flags: int = USER_PRESENT | USER_VERIFIED,
        sign_count: int | None = None,
        kind: str = "webauthn.get",
        tamper: bool = False,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.get({publicKey: options})`` answers; a counting
        authenticator counts one more use first (``sign_count`` sends another count)."""
        if self.counts:
            self.sign_count += 1
        count = self.sign_count if sign_count is None else sign_count
        signed = challenge if challenge is not None else from_b64url(options["challenge"])
        client_data = _client_data(kind, signed, origin or self.origin)
        auth_data = self._auth_data(rp_id or options["rpId"], flags, count, attested=False)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        if tamper:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        return self._credential(
            {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle) if self.user_handle else None,
            }
        )
