"""Export: campaign kits (videos, captions, schedule.csv) for teams that post by hand."""
