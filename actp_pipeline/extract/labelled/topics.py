"""Topic lexicons the labelled-caption builder fills its templates with.

Topics differ in their nouns only; the factor cues live in the phrase banks. Some topics are held out
(TEST_ONLY) so the test split also checks that the models do not key on a topic's words.
"""

from __future__ import annotations

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "skincare": {
        "product": ("serum", "moisturizer", "spf 50", "cleansing balm", "retinol"),
        "problem": ("breakouts", "dry patches", "dark spots", "oily t-zone"),
        "benefit": ("clear skin", "glass skin", "an even tone"),
        "thing": ("skin", "skin barrier", "morning routine"),
        "step": ("double cleanse at night", "spf every single morning", "moisturize on damp skin",
                 "patch test new stuff", "retinol twice a week max", "change your pillowcase"),
    },
    "fitness": {
        "product": ("resistance bands", "protein powder", "kettlebell", "running shoes"),
        "problem": ("back pain", "plateaus", "sore knees", "zero motivation"),
        "benefit": ("visible abs", "a stronger squat", "more energy"),
        "thing": ("workout", "training split", "cardio"),
        "step": ("warm up for 5 minutes", "progressive overload", "sleep 8 hours", "eat enough protein",
                 "track your lifts", "take rest days seriously"),
    },
    "cooking": {
        "product": ("cast iron pan", "air fryer", "chef's knife", "rice cooker"),
        "problem": ("soggy pasta", "bland sauces", "burnt garlic", "dry chicken"),
        "benefit": ("restaurant-level pasta", "crispy potatoes", "10-minute dinners"),
        "thing": ("meal prep", "weeknight dinners", "sauce game"),
        "step": ("salt the pasta water", "let the pan get hot", "rest your meat", "taste as you go",
                 "add acid at the end", "prep everything first"),
    },
    "finance": {
        "product": ("budgeting app", "high-yield savings account", "index fund", "cashback card"),
        "problem": ("overdraft fees", "impulse spending", "credit card debt", "paycheck-to-paycheck stress"),
        "benefit": ("an emergency fund", "zero debt", "a real savings habit"),
        "thing": ("budget", "spending", "savings"),
        "step": ("pay yourself first", "automate transfers", "cancel unused subscriptions",
                 "use the 50/30/20 split", "check your statement weekly", "set a no-spend day"),
    },
    "travel": {
        "product": ("carry-on backpack", "packing cubes", "travel card", "noise-cancelling headphones"),
        "problem": ("overpacking", "jet lag", "tourist traps", "expensive flights"),
        "benefit": ("cheap flights", "a stress-free trip", "carry-on only travel"),
        "thing": ("packing list", "itinerary", "trips"),
        "step": ("book flights on a tuesday", "roll your clothes", "download offline maps",
                 "eat where locals eat", "carry a power bank", "keep copies of your passport"),
    },
    "pets": {
        "product": ("slow feeder bowl", "harness", "lick mat", "grain-free kibble"),
        "problem": ("leash pulling", "separation anxiety", "scratching the sofa", "picky eating"),
        "benefit": ("a calm dog", "a happy cat", "loose-leash walks"),
        "thing": ("dog", "cat", "puppy"),
        "step": ("walk before meals", "reward calm behaviour", "rotate the toys", "brush weekly",
                 "keep training sessions short", "use a sniff mat"),
    },
    "gaming": {
        "product": ("controller", "gaming headset", "mechanical keyboard", "capture card"),
        "problem": ("input lag", "low fps", "tilt", "bad aim"),
        "benefit": ("higher ranked wins", "smooth 144 fps", "cracked aim"),
        "thing": ("setup", "aim", "ranked games"),
        "step": ("lower your sensitivity", "turn off motion blur", "warm up in aim trainers",
                 "review your replays", "cap your frame rate", "take breaks between games"),
    },
    "fashion": {
        "product": ("linen shirt", "white sneakers", "trench coat", "wide-leg jeans"),
        "problem": ("a closet full of nothing to wear", "ill-fitting jeans", "impulse hauls"),
        "benefit": ("a capsule wardrobe", "effortless outfits", "a signature style"),
        "thing": ("wardrobe", "outfits", "closet"),
        "step": ("pick a colour palette", "tailor what you own", "buy fewer better pieces",
                 "match your belt and shoes", "steam instead of iron", "plan outfits the night before"),
    },
    "home": {
        "product": ("steam mop", "label maker", "robot vacuum", "storage bins"),
        "problem": ("clutter", "a messy kitchen", "dusty shelves", "laundry piles"),
        "benefit": ("a tidy home", "a spotless kitchen", "a calm bedroom"),
        "thing": ("apartment", "kitchen", "living room"),
        "step": ("reset the kitchen nightly", "one-in-one-out rule", "clean top to bottom",
                 "declutter one drawer a day", "open windows daily", "make the bed first"),
    },
    "study": {
        "product": ("flashcard app", "planner", "noise-cancelling earbuds", "pomodoro timer"),
        "problem": ("procrastination", "exam stress", "forgetting everything", "all-nighters"),
        "benefit": ("straight A's", "focused study sessions", "better grades"),
        "thing": ("study routine", "notes", "exam prep"),
        "step": ("use active recall", "space your reviews", "study in 25-minute blocks",
                 "teach it to someone", "phone in another room", "sleep before the exam"),
    },
}

TEST_ONLY: dict[str, dict[str, tuple[str, ...]]] = {
    "gardening": {
        "product": ("raised bed", "compost bin", "drip hose", "seed starter tray"),
        "problem": ("yellow leaves", "aphids", "root rot", "leggy seedlings"),
        "benefit": ("a huge tomato harvest", "thriving houseplants", "a balcony jungle"),
        "thing": ("garden", "plants", "veggie patch"),
        "step": ("water in the morning", "mulch everything", "rotate your crops", "check soil moisture",
                 "prune dead leaves", "start seeds indoors"),
    },
    "parenting": {
        "product": ("white noise machine", "toddler tower", "visual schedule", "baby carrier"),
        "problem": ("bedtime battles", "toddler tantrums", "picky eaters", "screen time fights"),
        "benefit": ("calm bedtimes", "a toddler who sleeps through", "peaceful mornings"),
        "thing": ("toddler", "kids", "bedtime routine"),
        "step": ("give two choices", "same bedtime every night", "name the feeling",
                 "warn before transitions", "let them help cook", "read one book every night"),
    },
    "coffee": {
        "product": ("burr grinder", "pour-over kettle", "espresso machine", "french press"),
        "problem": ("bitter coffee", "sour espresso", "weak cold brew"),
        "benefit": ("cafe-quality lattes", "the perfect pour-over", "smooth cold brew"),
        "thing": ("morning coffee", "espresso", "home bar"),
        "step": ("weigh your beans", "grind right before brewing", "use filtered water",
                 "bloom for 30 seconds", "preheat your cup", "store beans airtight"),
    },
}

# Train-only topics for phrase bank C (bank_train2.py): more nouns around the same cues, so the models
# learn the cue words rather than a topic's words.
TRAIN_EXTRA: dict[str, dict[str, tuple[str, ...]]] = {
    "cars": {
        "product": ("dash cam", "ceramic coating", "tyre inflator", "car vacuum"),
        "problem": ("swirl marks", "a flat battery", "foggy headlights", "high fuel bills"),
        "benefit": ("a showroom shine", "better mileage", "a spotless interior"),
        "thing": ("car", "detailing routine", "daily commute"),
        "step": ("wash top to bottom", "two-bucket method", "check tyre pressure monthly",
                 "clay bar twice a year", "park in the shade", "clean the glass last"),
    },
    "music": {
        "product": ("metronome app", "audio interface", "capo", "studio headphones"),
        "problem": ("stage fright", "sloppy timing", "sore fingertips", "muddy mixes"),
        "benefit": ("clean chord changes", "a radio-ready mix", "perfect pitch practice"),
        "thing": ("practice sessions", "guitar playing", "home studio"),
        "step": ("practice slow first", "record yourself", "warm up your hands", "learn one song a week",
                 "tune before every session", "rest your ears"),
    },
    "books": {
        "product": ("e-reader", "reading tracker", "book light", "audiobook app"),
        "problem": ("reading slumps", "unfinished books", "a huge TBR pile", "doomscrolling"),
        "benefit": ("50 books a year", "a daily reading habit", "deeper focus"),
        "thing": ("reading habit", "bookshelf", "night routine"),
        "step": ("read 10 pages a day", "carry a book everywhere", "quit books you hate",
                 "join a book club", "read before bed", "alternate fiction and nonfiction"),
    },
}

FIRST_NAMES: tuple[str, ...] = ("Maya", "Jordan", "Priya", "Lena", "Sam", "Chloe", "Aisha", "Noah", "Elena",
                                "Kai", "Zoe", "Marco", "Tomás", "Yuki", "Fatima", "Ben", "Ines", "Olu")
