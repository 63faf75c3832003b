"""The bulk-speed email fast path of the field rules must agree with email-validator exactly."""

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_workspace.data.fields import SIMPLE_EMAIL as _SIMPLE_EMAIL

label = st.from_regex(r"[a-zA-Z0-9-]{1,12}", fullmatch=True)
email = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(r"[a-zA-Z0-9_%+.-]{1,20}", fullmatch=True),
    st.lists(label, min_size=1, max_size=3),
    st.sampled_from(["com", "de", "io", "test", "local", "example", "x", "C0M"]),
)


@settings(max_examples=400, deadline=None)
@given(email)
def test_simple_email_fast_path_only_takes_what_email_validator_accepts_unchanged(address):
    if _SIMPLE_EMAIL.fullmatch(address):
        assert validate_email(address, check_deliverability=False).normalized.lower() == address.lower()


def test_the_fast_path_refuses_what_email_validator_refuses():
    refused = ("x..y@a.com", "a@localhost", "a@foo.test", "a@-a.com", "a@1.23", ".a@b.com", "a@00--0.com")
    for address in (*refused, "a@ab--cd.de"):  # "--" third and fourth is kept for punycode-like labels
        assert not _SIMPLE_EMAIL.fullmatch(address)
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            continue
        raise AssertionError(f"email-validator accepted {address}")
