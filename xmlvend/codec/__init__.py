"""XMLVend 2.1 codec: parsing and building SOAP messages (sans-IO)."""
