"""Meter simulators for the demo test meters, built from the public demo vending keys."""

from __future__ import annotations

from utilities.demo import DEMO_KEYS
from utilities.sts import MeterSimulator, derive_decoder_key, tid_from_datetime


def demo_decoder_key(msno: str, sgc: str, krn: int, ti: str = "01", key_type: int = 2) -> bytes:
    key = next(k for k in DEMO_KEYS if k.sgc == sgc and k.krn == krn)
    return derive_decoder_key(
        bytes.fromhex(key.key_hex),
        dkga=key.dkga,
        drn=msno,
        key_type=key_type,
        sgc=sgc,
        tariff_index=ti,
        krn=krn,
        base_date=key.base_date,
        ea=key.ea,
    )


def simulator_for(msno: str, sgc: str = "123456", krn: int = 2, ti: str = "01") -> MeterSimulator:
    """A meter holding the demo key (sgc, krn), its TID memory filled at manufacture."""
    key = next(k for k in DEMO_KEYS if k.sgc == sgc and k.krn == krn)
    from datetime import datetime

    manufactured = datetime(2014, 6, 1) if key.base_date == 1993 else datetime(2015, 6, 1)
    return MeterSimulator(
        decoder_key=demo_decoder_key(msno, sgc, krn, ti),
        key_type=2,
        krn=krn,
        tariff_index=int(ti),
        sgc=int(sgc),
        base_date=key.base_date,
        manufacture_tid=tid_from_datetime(manufactured, key.base_date),
    )
