"""Staff and partner users of the admin suite (issue 15 §2): users, roles and permissions,
server-side sessions, login history and four-eyes approvals. A domain package beside
``vending`` that owns its tables (like ``distribution``); its services are
``vending/services/staff.py`` and ``vending/services/approvals.py`` (docs/ADMIN.md)."""
