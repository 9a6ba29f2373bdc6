"""``evd client``: one XMLVend request from the command line, the answer in readable form."""
