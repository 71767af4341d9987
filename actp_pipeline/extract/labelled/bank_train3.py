"""Phrase bank D: more varied ANGLE wording for TRAIN rows, written from GUIDE.md's angle definitions (not
from any test text). Banks A and C word curiosity mostly as "secret / hidden / nobody tells you" and social
proof mostly as "reviews / viral / everyone"; the guide's definitions are wider (curiosity withholds or
promises something hidden; social proof is others using, rating or recommending), so this bank words each
angle many more ways: teasers, cliffhangers and open loops; counts of users, creators, clients, family,
comments and DMs. Hooks, CTAs and format pieces come from bank C. Train rows only, own random stream.
"""

from __future__ import annotations

from actp_pipeline.extract.labelled.bank_train2 import (ATTRIBUTIONS, CTAS, HOOKS, LIST_MARKS, QUOTE_MARKS,
                                                         QUOTES)

__all__ = ["ANGLES", "ATTRIBUTIONS", "CTAS", "HOOKS", "LIST_MARKS", "NEUTRAL", "QUOTES", "QUOTE_MARKS"]

ANGLES: dict[str, tuple[str, ...]] = {
    "pain_point": (
        "You keep trying and {problem} keeps coming back.", "nothing feels worse than {problem} on a busy day",
        "i wasted a whole year fighting {problem}", "Annoyed that your {thing} never behaves?",
        "{problem} made me want to give up on {topic}.", "the constant {problem} was wearing me down",
        "Every {product} I bought made my {problem} worse.", "it's so discouraging when {thing} goes wrong again",
        "Stressed about {problem}? same.", "I used to dread my {thing} because of {problem}.",
        "that feeling when {problem} shows up out of nowhere", "Can't stand {problem} anymore?",
    ),
    "social_proof": (
        "{k} of my friends bought one after trying mine.", "my DMs are full of people saying it worked",
        "the most reviewed {product} on the site, by far", "{pct}k people saved this last week",
        "Trusted by {money}+ {topic} fans.", "my clients ask for this {product} by name",
        "even my mum uses it now", "The whole internet seems to agree on this one.",
        "a community favourite for {days} weeks", "Voted best {product} by the people who actually use it.",
        "every creator I follow has this {product}", "people keep tagging me in videos of it",
        "join the {money} people already doing this", "My sister, my roommate and my coworker all swear by it.",
        "it has a waitlist because everyone wants one", "{pct}% of the people I asked use it daily",
        "Coaches I trust recommend it to everyone.", "the reviews are basically unanimous",
    ),
    "curiosity": (
        "keep watching, the last tip is the one that matters", "the answer surprised even me",
        "I'll show you what changed everything at the end", "guess which step made the difference 👀",
        "Plot twist: it wasn't the {product} at all.", "something about {thing} nobody explains properly",
        "The part they always leave out of {topic} videos.", "I almost didn't share this one.",
        "there's more to {problem} than you think", "Stay till the end for the strange part.",
        "you'd never guess what fixed my {thing}", "The one thing I changed isn't what you'd expect.",
        "an unexpected detail about {product}", "I finally found out why {thing} works that way.",
        "Behind the scenes of {topic} there's a rule few people know.", "the reason will make you rethink {thing}",
        "i wasn't supposed to find this out", "Ever wondered what the pros do differently?",
    ),
    "transformation": (
        "old {thing} vs new {thing}, no comparison", "it's a whole new {thing} now",
        "I went from {problem} to {benefit}, slowly but surely", "{days} days apart, same lighting",
        "progress pics from day 1 to day {days}", "You should have seen my {thing} last year.",
        "the change after {k} weeks is crazy", "my {thing} glowed up big time",
        "It turned my {thing} around completely.", "Proof that {benefit} is possible: my own progress.",
        "where I started vs where I am now", "My {thing} is unrecognisable now.",
    ),
    "urgency": (
        "Only until Friday, then it's gone.", "the price goes back up at midnight",
        "{k} hours left on this deal", "Almost sold out, grab yours now.",
        "This won't last past the weekend.", "restock sold out in a day last time, move fast",
        "Last call for the {product} discount.", "Offer expires tonight at 11pm.",
        "get it today before the price changes", "Few units left, then it's backorder only.",
        "the {pct}% code dies tomorrow", "Early bird price ends soon.",
    ),
}

NEUTRAL: tuple[str, ...] = (
    "It fits into a normal week.", "i keep it really simple", "No fancy gear needed.",
    "Works whether you're new or not.", "Small changes add up.", "I've tested this a lot.",
    "you can start tonight", "Nothing complicated here.",
)
