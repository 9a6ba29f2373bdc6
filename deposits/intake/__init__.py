"""Channel adapters that bring bank alerts in: the IMAP mailbox reader and the Kannel SMS
endpoint. They translate only: every alert goes to ``vending.services.deposits``."""
