"""The sandbox: a loopback HTTP service with a seeded world that stands in for the social platforms.

The pipeline talks to it only over HTTP, like to a real platform API; its ground truth (/v1/_truth/*)
needs the truth token and is for evaluation code only. See DESIGN.md section 6.
"""

from .server import DEFAULT_PORT, SandboxServer, serve_forever
from .world import World, WorldConfig

__all__ = ["DEFAULT_PORT", "SandboxServer", "World", "WorldConfig", "serve_forever"]
