"""The sandbox's HTTP routes, one module per dialect: clock (health, clock), market (research feeds),
posting (media, posts, metrics), truth (evaluation only), ads (the Graph API), web (the upload site)."""
