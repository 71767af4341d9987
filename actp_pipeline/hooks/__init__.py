"""The hooks service: tracked links, page views, conversions and signed webhooks (step 9 of the loop, attribute)."""
