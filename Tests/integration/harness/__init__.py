"""Test harness of the devmesh integration suite: peers, clients, process control."""
