"""Development servers and tools shared by the tests, the benchmark and `make demo`: real PostgreSQL,
BIND, PowerDNS and a Kubernetes control plane on loopback, and the operator run against them."""
