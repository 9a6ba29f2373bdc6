"""The admin web suite at ``/admin`` (issue 15): server-rendered pages (Klein + Jinja2) for
staff and partners, acting only through the application services. See docs/ADMIN.md."""
