"""Phone numbers and endpoints. Every number is parsed and stored as E.164 with phonenumbers."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import phonenumbers.timezone
from phonenumbers import PhoneNumberType

_CLIENT = re.compile(r"^client:[A-Za-z0-9_.\-@]{1,121}$")
_SIP = re.compile(r"^sip:[^@\s]+@[^@\s]+$")

UNREACHABLE_TYPES = {
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
    PhoneNumberType.UNKNOWN,
}


def is_known_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def to_e164(raw: str, region: str) -> str:
    """Parse a number typed or spoken by a person; ValueError says why it is refused."""
    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def callable_e164(raw: str, region: str) -> str:
    """Like to_e164, but refuses numbers a callback must never dial (premium rate and the like)."""
    e164 = to_e164(raw, region)
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind in UNREACHABLE_TYPES:
        raise ValueError(f"{e164} is a number type we do not call back")
    return e164


def normalise_endpoint(raw: str, region: str) -> str:
    """A person's endpoint: an E.164 number, `client:identity` or a `sip:` URI."""
    raw = raw.strip()
    if raw.startswith("client:"):
        if not _CLIENT.match(raw):
            raise ValueError(f"{raw!r} is not a valid client:identity")
        return raw
    if raw.startswith("sip:"):
        if not _SIP.match(raw):
            raise ValueError(f"{raw!r} is not a valid sip: URI (sip:user@host)")
        return raw
    return to_e164(raw, region)


def spoken_number(e164: str, region: str = "US") -> str:
    """A phone number read back the one way people say it: the national format of the caller's
    own region, digit by digit in its groups ("3 1 2, 5 5 5, 0 1 4 2"; a London number
    "0 2 0, 7 9 4 6, 0 9 5 8"). Every prompt that reads a number back uses this."""
    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return spoken_digits(e164)
    groups = re.findall(r"\d+", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
    return ", ".join(" ".join(group) for group in groups)


def spoken_digits(digits: str) -> str:
    """Digits read one by one ("4 4 1 2"), the way a caller expects a number read back."""
    return " ".join(d for d in digits if d.isdigit())


def caller_time_zone(e164: str, default: ZoneInfo) -> ZoneInfo:
    """The caller's own time zone when their number pins it to one, so a window is spoken as
    the caller lives it ("between 10 AM and 12 PM" in New York); otherwise the organisation's."""
    try:
        zones = phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return default
    if len(zones) != 1:
        return default
    try:
        return ZoneInfo(zones[0])
    except (ZoneInfoNotFoundError, ValueError):
        return default
