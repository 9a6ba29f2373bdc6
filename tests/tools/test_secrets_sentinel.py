"""The secrets sentinel of tests/conftest.py finds what leaks and not what is chance."""

from tests.conftest import SecretsSentinel


def test_a_short_pin_counts_only_standing_alone() -> None:
    sentinel = SecretsSentinel()
    sentinel.register("5678")
    assert sentinel.find("reply: PIN 5678 changed") == {"5678"}
    assert sentinel.find("text=BAL+5678&from=9198") == {"5678"}
    # The demo password, a longer number and a file name carry the digits by chance.
    assert sentinel.find("password demo5678") == set()
    assert sentinel.find("amount 1256789") == set()
    assert sentinel.find("stock-5678a.csv") == set()


def test_a_long_secret_counts_anywhere_in_a_digit_run() -> None:
    sentinel = SecretsSentinel()
    sentinel.register("1234567890123456", "s3cr3t-key")
    assert sentinel.find(b"token 00123456789012345600") == {"1234567890123456"}
    assert sentinel.find("key=s3cr3t-key;") == {"s3cr3t-key"}
    assert sentinel.find("nothing here 1234") == set()


def test_log_records_are_reported_masked_and_third_party_numbers_are_not_pins() -> None:
    sentinel = SecretsSentinel()
    sentinel.register("8642", "1234567890123456")
    sentinel.records += [
        "gnupg DEBUG 8642: /usr/bin/gpg --status-fd 2 --batch",  # a process id
        "gnupg DEBUG chunk: 1234567890123456,AIR-10",  # a voucher PIN all the same
        "evd.sms INFO reply to 2782: PIN 8642 changed",
        "evd.sms INFO nothing secret here 4321",
    ]
    assert sentinel.log_leaks() == [
        "gnupg DEBUG chunk: ****************,AIR-10",
        "evd.sms INFO reply to 2782: PIN **** changed",
    ]
