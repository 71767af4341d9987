"""Phrase bank B: the templates the held-out TEST split is written from (none is shared with bank A),
plus captions written out in full by hand. Written by the ACTP team for this set.
"""

from __future__ import annotations

HOOKS: dict[str, tuple[str, ...]] = {
    "question": (
        "Is it just me or is {problem} getting worse?", "Why didn't anyone tell me about {benefit} sooner?",
        "What's actually inside your {product}?", "Does anyone else struggle with their {thing}?",
        "how do you guys deal with {problem}?", "Real question: is a {product} worth the hype?",
        "Ready to finally sort out your {thing}?", "Can a {product} really change your {thing}?",
        "who else is still making this {topic} mistake??", "Want {benefit} but hate long routines?",
    ),
    "bold_claim": (
        "You don't need another {product}.", "Quit wasting money on {topic} gadgets.",
        "The best {topic} tip is free.", "{product}s are a scam and I'll prove it.",
        "Everything you've been told about {thing} is wrong.", "Don't touch your {thing} until you see this.",
        "This single habit outperforms any {product}.", "Unfollow anyone who says {problem} is normal.",
        "{topic} is way easier than they make it look.", "Ignore the trends. do this instead.",
    ),
    "stat": (
        "Roughly {pct}% of {topic} beginners quit in week one.", "{k}x the {benefit} for half the effort.",
        "Just {pct}% of people do this right.", "Nearly {a} of every {b} {product}s get returned.",
        "My {problem} dropped {pct}% after one change.", "${money} a year, that's what {problem} costs you.",
        "{pct} percent of my followers asked about this.", "Up to {k}x faster {benefit}, no joke.",
    ),
    "story": (
        "I was the person with {problem} for a decade.", "Two summers ago my {thing} fell apart.",
        "My sister dared me to fix my {thing}.", "When my {product} broke I learned the hard way.",
        "i spent {days} days testing every {product} i own", "this time last year I had {problem}",
        "I gave my {thing} a {days}-day reset challenge.", "after my worst {topic} week ever, I changed one thing",
        "Growing up, nobody in my house cared about {thing}.", "I messed up my {thing} so you don't have to.",
    ),
    "pov": (
        "POV: you wake up with {benefit}.", "pov: your {product} is doing all the work",
        "POV: you quit {problem} cold turkey", "POV: the {product} hype was actually real",
        "pov - your {thing} glow-up nobody saw coming", "POV: your {topic} era starts today ✨",
        "POV: you just stopped doom-scrolling {topic} tips", "pov: {benefit} unlocked",
    ),
    "how_to": (
        "How to make {benefit} a habit.", "Here's exactly how to fix {problem}.",
        "{n} simple tricks for {benefit}.", "How I keep my {thing} on track (easy version).",
        "how to choose a {product} without regrets", "{n} rules I follow for {benefit}.",
        "Beginner's guide: {benefit} in {n} moves.", "The right way to use a {product}, explained.",
        "{n} mistakes to avoid with your {thing} (and what to do instead)", "How to set up your {thing} in 10 minutes.",
    ),
}

ANGLES: dict[str, tuple[str, ...]] = {
    "pain_point": (
        "{problem} drove me up the wall.", "Nothing I tried worked and it was exhausting.",
        "If {problem} keeps ruining your mornings, I get it.", "Dealing with {problem} is the worst feeling.",
        "I was fed up with {problem} and ready to give up.", "The struggle with {problem} is so real.",
    ),
    "social_proof": (
        "Half my followers already switched.", "The reviews on this are insane.",
        "Thousands of you asked, so here it is.", "Every creator I know uses this.",
        "It's the most recommended {product} on the internet right now.", "Customers keep sending me their results.",
    ),
    "curiosity": (
        "There's a reason nobody explains this.", "The hidden cause surprised me.",
        "One weird detail makes all the difference.", "Most people have no idea this exists.",
        "This secret ingredient is hiding in plain sight.", "Wait until you see what's really going on.",
    ),
    "transformation": (
        "Week one vs week eight: see for yourself.", "Results after {days} days are unreal.",
        "Complete glow up, no filter.", "My {thing} went from {problem} to {benefit}.",
        "Before and after, same lighting.", "Honestly a total transformation.",
    ),
    "urgency": (
        "Sale ends at midnight.", "Only {a} left, then it's gone for the year.",
        "Today is the last day for the discount.", "It's almost sold out again.",
        "Limited time: {pct}% off this week only.", "Doors close Friday, grab your spot now.",
    ),
}

CTAS: dict[str, tuple[str, ...]] = {
    "follow": ("Follow me for the next part.", "more {topic} stuff every day, hit follow",
               "Follow so you catch tomorrow's video.", "Follow @ for weekly {topic} help ✨"),
    "link_in_bio": ("Details in the link in my bio.", "The full guide is at the link in bio.",
                    "link in my bio if you want it", "Shop everything at the bio link."),
    "comment": ("Which one are you? Comment below.", "Comment GUIDE and I'll DM it.",
                "Let me know in the comments.", "comment your biggest {topic} struggle"),
    "save": ("Save for your next {thing} day.", "Save this one, you'll need it.",
             "save & try it this week", "Save it before it gets buried."),
}

NEUTRAL: tuple[str, ...] = (
    "Took me forever to learn this.", "Simple but it works.", "No gatekeeping here.",
    "Try it for two weeks.", "Not sponsored, just obsessed.", "Trust the process.",
)

QUOTES: tuple[str, ...] = (
    "I can't believe the difference.", "Genuinely the best money I've spent.",
    "Everyone asks what changed.", "This fixed my {thing} in a week.",
)

LIST_MARKS: tuple[str, ...] = ("{i}. ", "Step {i}: ", "#{i} ")
ATTRIBUTIONS: tuple[str, ...] = ("– {name}, verified buyer", "—{name}, {age}", "- {name} ({city})")
QUOTE_MARKS: tuple[tuple[str, str], ...] = (("“", "”"), ('"', '"'))

# Captions written out by hand, with their labels: (caption, hook_pattern, angle, cta_style, format).
HANDWRITTEN: tuple[tuple[str, str, str, str, str], ...] = (
    ("why does my cat knock everything off the table???\nturns out there's a hidden reason\nComment if yours does it too",
     "question", "curiosity", "comment", "text_hook"),
    ("POV: your credit card debt is finally at zero 🥹\nWent from paycheck to paycheck to a real savings habit\nFollow for the full journey",
     "pov", "transformation", "follow", "text_hook"),
    ("90% of gamers never change this one setting\n1. turn off motion blur\n2. cap fps at your refresh rate\n3. the one nobody tells you about: raw input\nsave this before your next ranked session",
     "stat", "curiosity", "save", "listicle"),
    ("I spent 6 months living out of one carry-on.\n“Best decision I ever made for my trips”\n— Ana, 29\nLink in bio for my packing list",
     "story", "transformation", "link_in_bio", "testimonial"),
    ("How to cook rice that isn't mushy\nI was so sick of gluey rice every night\n1. rinse it twice\n2. 1:1.2 water\n3. rest 10 min\nfollow for more kitchen fixes",
     "how_to", "pain_point", "follow", "listicle"),
    ("Stop feeding your dog from a regular bowl.\nEvery vet I've asked recommends a slow feeder\nLink in bio 🐶",
     "bold_claim", "social_proof", "link_in_bio", "text_hook"),
    ("Is a capsule wardrobe worth it?\n\"I get dressed in two minutes now\"\n- Jules, 34\nsale on the starter pieces ends tonight\nsave this",
     "question", "urgency", "save", "testimonial"),
    ("My toddler used to scream at every bedtime.\nNothing worked and I was exhausted\nThese three changes did it\nComment SLEEP for the routine",
     "story", "pain_point", "comment", "text_hook"),
    ("pov: you finally understand compound interest\nthe secret banks don't advertise\nfollow for part 2 💸\n#personalfinance #money #fyp",
     "pov", "curiosity", "follow", "text_hook"),
    ("3 ways to keep basil alive indoors\n1) bright window\n2) water from the bottom\n3) pinch the tops\nthousands of you asked for this one\ncomment your plant questions 🌿\n#gardening #plants",
     "how_to", "social_proof", "comment", "listicle"),
    ("Your espresso tastes sour because of ONE thing.\nOnly 10 bags of this roast left, restock is months away\nlink in bio ☕",
     "bold_claim", "urgency", "link_in_bio", "text_hook"),
    ("75% of students study the wrong way\n\"Active recall took me from a C to an A\"\n— Dev, 20\nsave for exam season 📚",
     "stat", "transformation", "save", "testimonial"),
    ("why is nobody talking about dry brushing??\neveryone on my feed swears by it now\ncomment if you've tried it",
     "question", "social_proof", "comment", "text_hook"),
    ("I trained for a 10k in 8 weeks with zero experience\nweek 1 vs week 8 is wild\nfollow to see race day",
     "story", "transformation", "follow", "text_hook"),
    ("Here's how to clean your oven without scrubbing\nStep 1: baking soda paste\nStep 2: leave overnight\nStep 3: wipe with vinegar\nthe hidden trick is the vinegar\nsave this",
     "how_to", "curiosity", "save", "listicle"),
    ("this $20 harness ended leash pulling. period.\n“She walks next to me now, unreal”\n– Priya, dog mom\nlink in my bio, it's on sale this week only",
     "bold_claim", "urgency", "link_in_bio", "testimonial"),
)
