"""What ``evd serve`` prints at start: where it listens and a first vend to paste."""

from __future__ import annotations

from collections.abc import Sequence

from vending.demo import DEMO_VENDORS

CURL_TEMPLATE = """\
curl -s{curl_options} {url} -H 'Content-Type: text/xml; charset=utf-8' --data-binary @- <<EOF
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:b="http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
    xmlns:r="http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema">
  <soap:Body>
    <r:creditVendReq>
      <b:clientID xsi:type="b:EANDeviceID" ean="{client_id}"/>
      <b:terminalID xsi:type="b:GenericDeviceID" id="1"/>
      <b:msgID dateTime="$(date -u +%Y%m%d%H%M%S)" uniqueNumber="$((RANDOM + 1))"/>
      <b:authCred><b:opName>{operator}</b:opName><b:password>{password}</b:password></b:authCred>
      <b:resource xsi:type="b:Electricity"/>
      <b:idMethod xsi:type="b:VendIDMethod">
        <b:meterIdentifier xsi:type="b:MeterNumber" msno="{meter}"/>
      </b:idMethod>
      <r:purchaseValue xsi:type="r:PurchaseValueCurrency">
        <r:amt value="50.00" symbol="ZAR"/>
      </r:purchaseValue>
    </r:creditVendReq>
  </soap:Body>
</soap:Envelope>
EOF"""


def demo_meter() -> str:
    """The utility side's normal-sale test meter (docs/TEST-METERS.md)."""
    from utilities.demo import TEST_METERS

    for meter in TEST_METERS:
        if meter.outcome.startswith("normal sale") and meter.registered:
            return meter.msno
    return TEST_METERS[0].msno


def first_vend_example(url: str, curl_options: str = "") -> str:
    """A copy-paste ``curl`` creditVendReq for the demo vendor and the demo meter."""
    vendor = DEMO_VENDORS[0]
    return CURL_TEMPLATE.format(
        url=url,
        curl_options=f" {curl_options}" if curl_options else "",
        client_id=vendor.client_id,
        operator=vendor.operator,
        password=vendor.password,
        meter=demo_meter(),
    )


def banner(
    url: str,
    *,
    workers: int,
    database: str,
    curl_options: str = "",
    extra: Sequence[str] = (),
) -> str:
    """``extra``: lines of other adapters mounted in the same Site (xmlvend.server.mounts)."""
    base = url.rsplit("/xmlvend", 1)[0]
    vendor = DEMO_VENDORS[0]
    lines = [
        f"EVD XMLVend 2.1 server listening on {url}",
        f"  workers   {workers}{' (SO_REUSEPORT)' if workers > 1 else ''}",
        f"  database  {database}",
        f"  WSDL      {url}?wsdl",
        f"  health    {base}/healthz",
        f"  metrics   {base}/metrics",
        "",
        f"First vend (demo vendor {vendor.name} {vendor.client_id}, operator {vendor.operator},"
        f" test meter {demo_meter()}; `evd demo` seeds them):",
        "",
        first_vend_example(url, curl_options),
        "",
        *extra,
        "Stop with Ctrl-C (in-flight requests are finished first).",
    ]
    return "\n".join(lines)
