from .base import Process


class ClusterProcess(Process):
    name = "clusters"

    def __init__(self, *args):
        pass
def charge_clusters(model, o): raise NotImplementedError
