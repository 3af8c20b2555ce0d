"""Where the packaged CO-RE objects live (the lowest layer: imports nothing)."""
import os

# (no pathlib: importing it costs ~14 ms of start-up)
OBJ_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpf")


def object_path(name: str) -> str:
    """Path of packaged object `name` (or `name` itself if it is a path)."""
    if os.sep in name or name.endswith(".o"):
        return name
    return os.path.join(OBJ_DIR, f"{name}.bpf.o")
