"""What the mobile service stores: one-time-code challenges and device sessions, never an address.

Both tables live on the identity side of the protocol. A challenge names the roll entry it
was sent for (or none, for a phone/birth date that is not on the roll: such a challenge can
never verify), a session names the roll entry it proves. Neither holds the code, the token
or anything the ledger holds: codes and tokens are stored as keyed or plain hashes, and the
only value a session keeps about the credential is SHA-256 of the *blinded* message, which
is statistically independent of the address it hides (RFC 9474 blinding), kept so that a
retry gets the same signature (also from a new session of the same voter, after the phone
lost the first one) and a second, different request is refused.
"""

from __future__ import annotations

from django.db import models

from voting.models import Election, VoterRollEntry


class OtpChallenge(models.Model):
    """One code sent (or pretended to be sent) by SMS; verified at most once, max N attempts."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    # Null when the phone/birth date matched no roll entry: same response, no SMS, never verifies.
    roll_entry = models.ForeignKey(VoterRollEntry, on_delete=models.CASCADE, null=True, related_name="+")
    # SHA-256 of the opaque challenge handed to the device (256 random bits: no key needed).
    challenge_sha256 = models.CharField(max_length=64, unique=True)
    # HMAC-SHA256(OTP key, challenge hash || code): a dump without the key cannot test codes.
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="otp_expires_idx")]


class DeviceSession(models.Model):
    """Proof that a device passed the code check for one roll entry; good for one blind signature."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    roll_entry = models.ForeignKey(VoterRollEntry, on_delete=models.CASCADE, related_name="+")
    # SHA-256 of the bearer token (256 random bits); the token itself is only on the device.
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # SHA-256 of the blinded message signed for this session (idempotent retries), or blank.
    blinded_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="device_session_expires_idx")]
