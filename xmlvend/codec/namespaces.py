"""XML namespace URIs used by XMLVend 2.1 and our extension (reference §1.1,
docs/EXTENSION-NAMESPACE.md). Shared by the schema files and the codec."""

BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
REVENUE = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
METER = "http://www.nrs.eskom.co.za/xmlvend/meter/2.1/schema"
EXT = "urn:evd:xmlvend:ext:1.0"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BIND = "http://schemas.xmlsoap.org/wsdl/soap/"

# Added by the codec (not used by the schema files): SOAP 1.2 envelopes are accepted on input
# and answered in kind (reference §6).
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
