"""executor-engine's ``executor.engine.utils``, as far as it is public: ``PortManager``."""

from ._extend import answers, free_port

__all__ = ["PortManager"]


class PortManager:
    """Free local ports, and whether one answers."""

    @staticmethod
    def find_free_port(ip: str = "127.0.0.1") -> int:
        return free_port(ip)

    get_port = find_free_port

    @staticmethod
    def port_answers(ip: str, port: int) -> bool:
        return answers(ip, port)
