"""XMLVend 2.1 (NRS 009-6-10): a sans-IO codec (``xmlvend.codec``) and Twisted transports
(server and client) built on it."""
