"""Oversight: what staff and partners read and do across the platform (issue 15): the
transaction search and its detail, the dashboard's figures, user activity and its unusual
flags, reports. Transaction functions only; the services in
``vending/services/oversight*.py`` check permissions and scope and audit every action."""
