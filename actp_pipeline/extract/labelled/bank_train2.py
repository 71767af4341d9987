"""Phrase bank C: more varied TRAIN templates, written from GUIDE.md's definitions (not from any test text).

Bank A alone words each level one way; this bank adds casual, lowercase, emoji and slang forms, cues at the
start, middle or end of a line, and the decision-rule edge cases the guide spells out (a question carrying
a statistic is stat, a first-person line ending in "?" is story, "how do you...?" is a question). Its
captions are train rows only, built with their own random stream so the test rows never change.
"""

from __future__ import annotations

HOOKS: dict[str, tuple[str, ...]] = {
    "question": (
        "ok but does {product} even work??", "real question: is {topic} worth the hype?",
        "anyone else confused about {thing}?", "how do you stay consistent with {topic}?",
        "be honest, do you skip {thing}?", "so which {product} should I get?",
        "what would you do about {problem}?", "Can {product} really fix {problem}?",
        "why does everyone hate {product}? 🤔", "is it just me or is {thing} harder lately?",
        "Thinking of trying {product}, is it any good?", "where do I even start with {topic}?",
        "Do you rinse, soak or skip? Asking for {thing} reasons", "are we overcomplicating {thing}?",
        "Which one would you pick for {benefit}?", "wait... is {product} bad for your {thing}?",
        "How often should you switch your {product}?", "Does anyone actually enjoy {thing}?",
        "Is {benefit} even realistic?", "who else is dealing with {problem} right now?",
    ),
    "bold_claim": (
        "unpopular opinion: {product} is a scam", "you don't need {product}. at all.",
        "{product} is NOT the answer.", "Quit wasting your {thing} on {product}.",
        "this is the biggest {topic} mistake ever", "please stop doing this to your {thing} 🙅",
        "Your {thing} deserves better than this.", "nobody is ready for this {topic} truth",
        "{topic} doesn't have to be expensive.", "the cheap {product} wins. every time.",
        "Don't touch {product} until you read this.", "This is why {topic} feels impossible.",
        "Hot take - {thing} is mostly mindset.", "Real talk: {benefit} is simpler than they say.",
        "ditch the {product}, do this instead", "Everything you've heard about {thing} is wrong.",
        "This {product} is worth every penny.", "You have been lied to about {problem}.",
        "no more excuses for your {thing}", "The {product} trend needs to end 🛑",
    ),
    "stat": (
        "did you know {pct}% of people get {thing} wrong?", "{pct} percent of {topic} beginners quit in week one",
        "{a}/{b} people never fix their {problem}", "{k}x the {benefit}, same effort 📈",
        "I cut {problem} by {pct}% with one change", "Nearly {pct}% of {product}s don't do what they claim.",
        "only {a} in {b} people know this {topic} rule", "saved ${money} a year by switching {product}",
        "{pct}% of my {problem} was gone after {days} days", "{k} times the results for half the cost",
        "Lost ${money} before I learned this about {product}", "Up to {pct}% better {benefit} with one habit",
        "{pct}% less {problem}. here's what changed.", "Studies: {a} out of {b} skip this {topic} step",
        "{pct}%. that's how many people ruin their {thing}.", "Cut my {thing} costs by ${money} 💸",
    ),
    "story": (
        "i finally did it. {days} days of {topic} later", "my {thing} story (it gets better)",
        "So last week my {product} broke and I panicked", "I spent {days} days testing every {product}",
        "when i was 19 i had no clue about {topic}", "i quit {product} for a month. guess what happened?",
        "this is how my {thing} looked a year ago", "Day {k} of trying {benefit} the hard way",
        "week 1 vs week {n} of my {topic} journey", "I tried the viral {topic} challenge so you don't have to",
        "I never thought I'd say this about {product}", "my {problem} almost made me give up",
        "Back in 2019 I had {problem} every single day", "We moved and my whole {thing} fell apart",
        "I was today years old when I fixed my {thing}", "Before and after: {days} days of {topic}",
        "my sister convinced me to try {product}...", "I did {topic} every day for a month, here's what happened",
    ),
    "pov": (
        "pov - you finally stopped {problem}", "POV you found the {product} everyone gatekeeps",
        "pov: {days} days into your {topic} era ✨", "POV: you tried {product} for the first time",
        "POV - your {thing} actually works now", "pov: you're {pct}% done with {problem}",
        "POV: the {topic} girl/guy in your friend group", "pov: someone finally explains {thing} properly",
        "Pov: you stopped overthinking your {thing}", "POV: you got {benefit} without {product}",
        "pov: it's sunday and your {thing} is sorted", "POV: you see {problem} coming and you're ready?",
    ),
    "how_to": (
        "how i fixed {problem} in {days} days", "here's how to get {benefit} on a budget",
        "{n} mistakes to avoid with your {thing}", "the {n}-step {topic} routine that works",
        "How we finally got {benefit}", "how to use {product} the right way",
        "{n} easy ways to upgrade your {thing} 👇", "a beginner's guide to {topic}",
        "Here's how I set up my {thing}.", "{n} rules for {benefit}",
        "step by step: {benefit} without {product}", "how to choose {product} (quick guide)",
        "{n} hacks for {problem}", "The complete {topic} guide for beginners",
        "how i keep my {thing} simple", "{n} {topic} tips nobody gave me",
    ),
}

ANGLES: dict[str, tuple[str, ...]] = {
    "pain_point": (
        "ugh, {problem} again? been there.", "if {problem} is driving you crazy, keep reading",
        "I know how exhausting {problem} gets.", "we've all wasted money on a {product} that flopped",
        "Struggling with your {thing}? you're not alone.", "{problem} kept me up at night for months.",
        "so tired of {thing} that never works", "frustrated that nothing fixes {problem}?",
        "My {thing} was a constant headache.", "Hate when {problem} ruins your whole day?",
        "Dealing with {problem} is the worst.", "I was fed up with {problem} and cheap {product}s.",
        "The struggle with {problem} is real 😩", "sick and tired of {problem}, honestly",
    ),
    "social_proof": (
        "{money}+ reviews can't be wrong.", "literally everyone is using this {product} now",
        "my followers keep recommending this {product}", "Over {pct}k people have tried it.",
        "The comments on this went crazy.", "Top rated {product} with thousands of five star reviews",
        "my whole family swears by it", "Recommended by {k} of my favourite {topic} creators.",
        "this is the {product} everyone keeps talking about", "It blew up online for a reason.",
        "People keep asking me about it after it went viral.", "Customers rate it {k}/10 across the board.",
        "Bestseller for {days} weeks straight.", "All my friends switched after seeing mine.",
    ),
    "curiosity": (
        "There's a reason nobody tells you this...", "the secret ingredient? you won't guess it",
        "Brands really don't want this out there.", "one hidden setting changes everything",
        "I discovered something strange about {product}.", "wait until you see step {k} 👀",
        "This little-known trick surprised me.", "The real reason {problem} happens is hidden in plain sight.",
        "what they don't tell you about {thing}", "the trick is so weird it actually works",
        "I can't believe I didn't know this sooner.", "There's a mystery ingredient in every good {thing}.",
        "a secret the pros keep to themselves", "Nobody talks about this part of {topic}.",
    ),
    "transformation": (
        "before: {problem}. after: {benefit}.", "the glow up is unreal ✨",
        "my {thing} went from zero to hero", "{days} days later I'm a different person",
        "Look how far my {thing} has come.", "results after {days} days, no filter",
        "The transformation still shocks me.", "swipe to see the change 👉",
        "Went from {problem} to {benefit} in one season.", "I don't even recognise my old {thing}.",
        "My before and after pics say it all.", "Totally transformed my {thing} in {days} days.",
        "From struggling to thriving with my {thing}.", "Then vs now, the difference is wild.",
    ),
    "urgency": (
        "sale ends at midnight, don't sleep on it", "last few left, restock not planned",
        "only today: {pct}% off everything", "hurry, this deal disappears tonight ⏰",
        "it's almost sold out again", "Ends Sunday. no extensions.",
        "Grab it now before prices jump.", "Final hours of the {product} sale.",
        "Stock is running low fast.", "Deal ends in 24 hours!",
        "Limited time only, get it while you can.", "this drop won't be back once it's gone",
        "Doors close tonight for the {topic} bundle.", "Just {k} left at this price.",
    ),
}

CTAS: dict[str, tuple[str, ...]] = {
    "follow": (
        "follow for more", "Follow me for daily {topic} content ✨", "follow so you don't miss part {k}",
        "Hit that follow button for more {topic}", "more {topic} tips? follow!", "Follow @ for part 2 👉",
        "follow + turn on notifications", "Follow along, part {k} drops tomorrow.",
    ),
    "link_in_bio": (
        "link in my bio 🔗", "full routine linked in bio", "check the link in my bio for the {product}",
        "Shop everything via link in bio.", "links are in my profile", "the {product} is in my bio link",
        "Tap the link in bio to grab it.", "bio link has the full guide",
    ),
    "comment": (
        "comment below what you'd try first", "Drop a 🔥 in the comments if you agree",
        "tell me your {thing} struggles below", "comment GUIDE and I'll DM you", "what do you think? comment 👇",
        "Leave a comment with your {thing} tip", "Comment 'me' if this is you", "let me know in the comments",
    ),
    "save": (
        "save for later 📌", "Save this so you have it next time", "bookmark this one",
        "pin this for your next {thing}", "save this post and thank me later", "Save & share with a friend",
        "save it before you forget", "Bookmark for your {topic} days.",
    ),
}

NEUTRAL: tuple[str, ...] = (
    "Took me ages to figure this out.", "it's simpler than it looks", "Works for any budget.",
    "Start small and build from there.", "I do this every week now.", "Honestly a game changer for my {thing}.",
    "you can do this at home", "No expensive tools required.", "Give it an honest try.",
)

QUOTES: tuple[str, ...] = (
    "This changed my whole {thing}.", "i'm obsessed, honestly", "Never going back to my old {product}.",
    "Ten out of ten, would recommend.", "It just works.", "I tell everyone about this now.",
)

LIST_MARKS: tuple[str, ...] = ("{i}. ", "{i}) ", "{i}️⃣ ", "Step {i}: ", "#{i} ")
ATTRIBUTIONS: tuple[str, ...] = ("— {name}", "- {name}, {age}", "~ {name} ({city})", "– {name}, customer")
QUOTE_MARKS: tuple[tuple[str, str], ...] = (('"', '"'), ("“", "”"), ("«", "»"))
