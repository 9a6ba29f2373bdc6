"""Provider simulators (``evd simulate-provider KIND --port P``): a recharge aggregator
(HTTP/JSON) and a BBPS-like bill payment network (XML), each a Twisted web server holding
its orders in memory, with latency, outages, hung answers and pending orders completed (and
called back) on request. Tests start them as their own processes on loopback ports."""
