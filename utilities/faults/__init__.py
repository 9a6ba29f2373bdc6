"""Customer fault reports (XMLVend ``custReportFaultReq``): the table, logging a report
under its request key, and the staff's ``evd fault`` commands."""

from utilities.faults import tables as tables
