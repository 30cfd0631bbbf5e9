"""Subscription secrets sealed with NOTIFY_SECRETS_KEY: newest key seals, any key opens."""

from __future__ import annotations

import pytest

from services.notify.adapters.sealing import SecretBox, SecretUnreadable, new_key

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_secret_opens_to_itself_and_does_not_contain_it() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal(SECRET)
    assert sealed is not None and SECRET not in sealed and "MfKQ9r8G" not in sealed
    assert box.open(sealed) == SECRET
    assert box.seal(SECRET) != sealed, "each sealing is fresh (random IV)"
    assert box.seal(None) is None and box.open(None) is None


def test_rotation_new_key_first_old_keys_still_open() -> None:
    old, new = new_key(), new_key()
    sealed_with_old = SecretBox([old]).seal(SECRET)
    assert sealed_with_old is not None
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_with_old) == SECRET
    assert not rotated.is_current(sealed_with_old)
    resealed = rotated.reseal(sealed_with_old)
    assert rotated.is_current(resealed)
    assert SecretBox([new]).open(resealed) == SECRET, "the old key can go now"
    fresh = rotated.seal(SECRET)
    assert fresh is not None and rotated.is_current(fresh)


def test_a_secret_no_key_opens_is_reported_not_returned() -> None:
    sealed = SecretBox([new_key()]).seal(SECRET)
    other = SecretBox([new_key()])
    with pytest.raises(SecretUnreadable, match="NOTIFY_SECRETS_KEY"):
        other.open(sealed)
    with pytest.raises(SecretUnreadable):
        other.reseal(sealed)  # type: ignore[arg-type]
    with pytest.raises(SecretUnreadable):
        other.open("not a token")
