"""The sandbox: a loopback HTTP service with a seeded world that stands in for the social platforms.

The pipeline talks to it only over HTTP, like to a real platform API; its ground truth (/sandbox/truth/*)
needs the truth token and is for evaluation code only. See DESIGN.md section 6.

Layout: the domain is framework-free (model/world/market: the seeded world; clock; state; publishing:
media, posts, metrics; graph/ads_objects/ads_world: the Meta ads dialect and its world); the HTTP layer
is Starlette (transport.py, one module of routes per dialect under routes/, app.py) served by uvicorn
(server.py). A seed and a clock start decide everything it serves; the real date never does.
"""

from .server import DEFAULT_PORT, SandboxServer, serve_forever
from .world import World, WorldConfig

__all__ = ["DEFAULT_PORT", "SandboxServer", "World", "WorldConfig", "serve_forever"]
