print("devmesh: not wired yet")
