"""STS token engine (IEC 62055-41): 20-digit prepayment tokens, decoder keys, a meter.

Module map (reference: shared/reference/sts.md):

* :mod:`~utilities.sts.crc`, :mod:`~utilities.sts.amount`, :mod:`~utilities.sts.tid`,
  :mod:`~utilities.sts.digits` - token data primitives (§1);
* :mod:`~utilities.sts.sta`, :mod:`~utilities.sts.misty1`, :mod:`~utilities.sts.des` -
  EA07, EA11 and DES (§2);
* :mod:`~utilities.sts.pan`, :mod:`~utilities.sts.dkga` - meter numbers and DKGA-02/04 (§3);
* :mod:`~utilities.sts.layouts`, :mod:`~utilities.sts.tokens`,
  :mod:`~utilities.sts.builders` - token layouts, encode/decode and builders (§4);
* :mod:`~utilities.sts.meter` - the meter simulator (§5);
* :mod:`~utilities.sts.vectors`, :mod:`~utilities.sts.cli` - ``evd sts check-vectors`` (§6).

Only the standard library and ``cryptography`` are used.
"""

from utilities.sts.amount import (
    MAX_AMOUNT,
    decode_amount,
    decode_currency_amount,
    encode_amount,
    encode_currency_amount,
    to_base_units,
)
from utilities.sts.builders import (
    KEN_NEVER_EXPIRES,
    clear_credit_token,
    clear_tamper_token,
    credit_token,
    key_change_tokens,
    max_phase_power_unbalance_limit_token,
    max_power_limit_token,
    meter_test_token,
    tariff_rate_token,
    water_meter_factor_token,
)
from utilities.sts.dkga import MeterKeyData, derive_decoder_key, dkga02, dkga04, meter_key_data
from utilities.sts.encryption import EncryptionAlgorithm
from utilities.sts.errors import (
    AmountOverflowError,
    KeyDerivationError,
    MeterNumberError,
    StsError,
    TidRangeError,
    TokenClassError,
    TokenCRCError,
    TokenFormatError,
    VectorFileError,
)
from utilities.sts.layouts import (
    CreditSubclass,
    ManagementSubclass,
    MeterTestSubclass,
    TokenClass,
    parse_fields,
)
from utilities.sts.meter import MeterResult, MeterSimulator, Rejection
from utilities.sts.pan import PrimaryAccountNumber, luhn_check_digit, meter_number_is_valid
from utilities.sts.sta import REAL_TABLES, SAMPLE_TABLES, StaTables
from utilities.sts.tid import datetime_from_tid, tid_from_datetime
from utilities.sts.tokens import Token, decode_token, encode_token

__all__ = [
    "KEN_NEVER_EXPIRES",
    "MAX_AMOUNT",
    "REAL_TABLES",
    "SAMPLE_TABLES",
    "AmountOverflowError",
    "CreditSubclass",
    "EncryptionAlgorithm",
    "KeyDerivationError",
    "ManagementSubclass",
    "MeterKeyData",
    "MeterNumberError",
    "MeterResult",
    "MeterSimulator",
    "MeterTestSubclass",
    "PrimaryAccountNumber",
    "Rejection",
    "StaTables",
    "StsError",
    "TidRangeError",
    "Token",
    "TokenCRCError",
    "TokenClass",
    "TokenClassError",
    "TokenFormatError",
    "VectorFileError",
    "clear_credit_token",
    "clear_tamper_token",
    "credit_token",
    "datetime_from_tid",
    "decode_amount",
    "decode_currency_amount",
    "decode_token",
    "derive_decoder_key",
    "dkga02",
    "dkga04",
    "encode_amount",
    "encode_currency_amount",
    "encode_token",
    "key_change_tokens",
    "luhn_check_digit",
    "max_phase_power_unbalance_limit_token",
    "max_power_limit_token",
    "meter_key_data",
    "meter_number_is_valid",
    "meter_test_token",
    "parse_fields",
    "tariff_rate_token",
    "tid_from_datetime",
    "to_base_units",
    "water_meter_factor_token",
]
