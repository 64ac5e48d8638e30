from .base import Process


class MSCProcess(Process):
    name = "msc"

    def __init__(self, *args):
        pass
def charge_msc(model, o): raise NotImplementedError
