"""devmesh system benchmark harness: devmesh side by side with nginx, HAProxy and Envoy.

Start it with scripts/bench.sh (which installs the tools and builds devmesh); the method is
docs/benchmarks.md and /work/shared/notes/benchmarks.md.
"""
