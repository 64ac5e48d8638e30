from .base import Process


class PhotocatalysisProcess(Process):
    name = "photocatalysis"

    def __init__(self, *args):
        pass
def charge_a3(model, o): raise NotImplementedError
def charge_a4(model, o): raise NotImplementedError
def charge_b(model, o): raise NotImplementedError
