"""Data package: our XMLVend 2.1 XSDs (base, revenue, meter and our extension namespace) and
the WSDL. Located at run time with ``importlib.resources.files("wsdl")``."""
