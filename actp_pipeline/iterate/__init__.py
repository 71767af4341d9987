"""Step 10, iterate: the next round's inputs from what this round measured."""
