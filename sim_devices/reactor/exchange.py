from .base import Process


class ExchangeProcess(Process):
    name = "exchange"

    def __init__(self, *args):
        pass
