"""Phrase bank A: the templates the TRAIN split of the labelled captions is written from.

Written by the ACTP team for this set. The test split uses bank B (bank_test.py), whose sentences are
different, so the held-out score measures generalisation rather than template recall.
"""

from __future__ import annotations

HOOKS: dict[str, tuple[str, ...]] = {
    "question": (
        "Why do your {problem} keep coming back?", "Is your {product} actually worth it?",
        "What if {benefit} was this easy?", "Are you making this {topic} mistake?",
        "Ever wonder why your {thing} never improves?", "Which {product} is really the best?",
        "Do you really need a {product}?", "can we talk about {problem}??",
        "Have you ever tried this with your {thing}?", "Why is nobody talking about {benefit}?",
        "what's the one {topic} thing you'd never skip?", "Is this why your {thing} feels off?",
        "Should you ditch your {product}?", "Would you try this for {benefit}?",
    ),
    "bold_claim": (
        "Stop buying {product} until you watch this.", "Nobody needs a 10-step {topic} routine.",
        "This is the only {product} you'll ever need.", "You're doing your {thing} wrong.",
        "Your {product} is a waste of money.", "{topic} influencers are lying to you.",
        "This changes everything about {thing}.", "Never start your {thing} without this.",
        "The {topic} industry doesn't want you to see this.", "Forget everything you know about {thing}.",
        "hot take: {product} is overrated", "This beats every {product} on the market.",
        "Throw out your {product}. seriously.", "Most {topic} advice is garbage.",
    ),
    "stat": (
        "{pct}% of people skip this {topic} step.", "{a} out of {b} people get their {thing} wrong.",
        "This made my {thing} {k}x better.", "Only {pct}% of beginners know this.",
        "{pct}% fewer {problem} in {days} days.", "{k}x more results from one tiny habit.",
        "I tracked {days} days and {pct}% of my {problem} disappeared.", "{a} in {b} {topic} fans make this mistake.",
        "studies say {pct}% of {topic} routines fail", "${money} saved on {product} in one year.",
        "A {pct}% jump in {benefit} from one switch.", "{k} times faster {benefit} with this.",
    ),
    "story": (
        "I almost quit my {thing} last year.", "My {thing} was a disaster until this happened.",
        "Last month I tried every {product} there is.", "When I started my {thing} I knew nothing.",
        "I used to hide my {problem} from everyone.", "My friend laughed at my {thing} once.",
        "Yesterday I finally figured out my {problem}.", "Three years ago I couldn't even spell {topic}.",
        "so i tried {days} days of {topic} and...", "before vs after {days} days of my new {thing}",
        "I did the {days}-day {topic} challenge.", "day 1 of fixing my {problem} with zero budget",
        "My mom was right about {thing} all along.", "the day I threw out my {product} changed everything",
    ),
    "pov": (
        "POV: you finally found a {product} that works.", "pov: your {thing} after {days} days of consistency",
        "POV: you stopped buying every new {product}.", "POV: your friends keep asking about your {thing}.",
        "pov: you just discovered {benefit}", "POV: it's 6am and your {thing} is already done.",
        "POV: you're the friend who fixed everyone's {problem}.", "pov: you figured out {benefit} before 25",
        "POV: your {product} finally arrived 📦", "POV: me explaining {thing} to my family",
    ),
    "how_to": (
        "How to get {benefit} without spending a fortune.", "How to build a {topic} routine that sticks.",
        "How to pick the right {product}.", "How I got {benefit} in one season.",
        "How I finally fixed my {problem}.", "{n} ways to fix {problem}.",
        "{n} tips for {benefit}.", "how to stop {problem} for good",
        "Here's how to make your {thing} last.", "The easiest way to get {benefit}, step by step.",
        "{n} steps to {benefit} (beginner friendly)", "How we cut our {problem} in half.",
        "A quick guide to {benefit}.", "{n} things I wish I knew before starting {topic}",
    ),
}

ANGLES: dict[str, tuple[str, ...]] = {
    "pain_point": (
        "If you're struggling with {problem}, this is for you.", "Tired of {problem} ruining your week?",
        "I was so frustrated with my {thing} for years.", "Still struggling to find a {product} that works.",
        "Nothing is worse than {problem} that won't go away.", "I hated dealing with {problem} every day.",
        "{problem} was honestly ruining my confidence.", "Sick of wasting money on {product}s that fail.",
    ),
    "social_proof": (
        "Thousands of people switched to this.", "Over {money} people swear by this {product}.",
        "It has 5-star reviews for a reason.", "Everyone at my gym is switching to this.",
        "This went viral for a reason.", "Experts and customers agree on this one.",
        "My whole group chat bought the same {product}.", "Rated #1 by real users {days} weeks in a row.",
    ),
    "curiosity": (
        "Here's the secret brands keep quiet about.", "The secret is in the order you do things.",
        "There's a hidden step most people skip.", "What nobody tells you about {product}.",
        "The weird trick nobody mentions.", "You won't believe what actually causes {problem}.",
        "I found something surprising about {product}.", "There's one thing the pros never explain.",
    ),
    "transformation": (
        "Swipe for the before and after.", "My {thing} completely transformed.",
        "This was my whole glow-up in one routine.", "The before and after speaks for itself.",
        "From {problem} to {benefit} in {days} days.", "I barely recognise my {thing} now.",
        "Look at the results after {days} days.", "Same me, totally different {thing}.",
    ),
    "urgency": (
        "The bundle is on sale today only.", "Last chance to grab it before it's gone.",
        "The offer ends tonight, don't wait.", "This {product} keeps selling out fast.",
        "Only a few left in stock.", "Prices go up tomorrow morning.",
        "Limited drop, {pct}% off for 24 hours.", "Hurry, the discount code expires at midnight.",
    ),
}

CTAS: dict[str, tuple[str, ...]] = {
    "follow": (
        "Follow for more {topic} tips.", "Follow for part two.", "Follow for daily {topic} advice.",
        "follow me so you don't miss part 2", "Hit follow for more like this.", "Follow along for the results.",
    ),
    "link_in_bio": (
        "Link in bio to shop the routine.", "Link in bio for the full list.", "link in bio 🔗",
        "Everything I used is linked in my bio.", "Grab it from the link in my bio.", "Shop it via the link in bio.",
    ),
    "comment": (
        "Comment your {thing} type below.", "Comment ROUTINE and I'll send you the steps.",
        "Comment which step you always skip.", "Drop a comment if this helped.",
        "tell me in the comments 👇", "Comment 'yes' for the full guide.",
    ),
    "save": (
        "Save this for your next shopping trip.", "Save this so you don't forget.", "Save this for later.",
        "save this post 📌", "Bookmark this for your next {thing} day.", "Save it and try it tonight.",
    ),
}

NEUTRAL: tuple[str, ...] = (
    "Here's what actually helped.", "Keep it simple and stay consistent.", "Consistency beats intensity.",
    "Your {thing} will thank you.", "Small habits add up.", "Give it a few weeks before you judge.",
    "It took me a while to get this.", "No fancy gear needed.",
)

QUOTES: tuple[str, ...] = (
    "Honestly the best thing I did for my {thing} this year.", "I did not expect it to work this well.",
    "My {thing} has never been better.", "I wish I'd started this sooner.",
)

LIST_MARKS: tuple[str, ...] = ("{i}. ", "{i}) ", "{i}️⃣ ")
ATTRIBUTIONS: tuple[str, ...] = ("— {name}, {age}", "- {name}", "— {name} from {city}")
QUOTE_MARKS: tuple[tuple[str, str], ...] = (('"', '"'), ("“", "”"))
