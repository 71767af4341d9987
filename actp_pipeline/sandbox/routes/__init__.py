"""The sandbox's HTTP routes, one module per dialect: the sandbox's own (clock: health and the simulated clock;
market: research feeds; truth: evaluation only), ads (Meta's Graph API), tiktok, tiktok_ads, youtube, ayrshare,
oauth, and web (the upload sites)."""
