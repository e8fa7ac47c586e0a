print("devmesh-microbench: not written yet")
