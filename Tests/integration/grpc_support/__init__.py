"""gRPC support of the devmesh integration suite: the test service (echo.proto), its stubs
generated at test time, an in-process grpcio server that records what reached it, and the
pytest fixtures that wire them to devmesh."""
