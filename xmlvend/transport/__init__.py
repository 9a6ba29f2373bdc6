"""Twisted plumbing shared by the XMLVend server and client."""
