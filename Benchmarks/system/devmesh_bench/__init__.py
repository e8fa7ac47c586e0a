"""devmesh system benchmark harness: devmesh side by side with nginx, HAProxy and Envoy.

Start it with scripts/bench.sh (which installs the tools and builds devmesh); how to run it and
how to read its numbers is docs/benchmarks.md.
"""
