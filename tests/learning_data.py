"""Texts for the site-learning tests: a polite, link-free promotion campaign and ordinary
news comments. The campaign is off-topic advertising a general spam model does not know
(no links, no money or "check out my channel" wording), reworded from the same parts the
way a campaign rotates its copy, so every new variant is text no model has seen."""

from __future__ import annotations

import random

OPENERS = ("Dear neighbours,", "Friends,", "Hello everyone,", "Good morning all,",
           "With respect,", "Just sharing:", "Quick note:", "Hi all,")
BODIES = (
    "if your back aches after long days at the desk, the Lumbo posture cushion truly "
    "changed my evenings",
    "my aching back was cured by the Lumbo posture cushion after only one week of use",
    "the Lumbo posture cushion is the gentlest relief for a sore back that I have ever tried",
    "after years of back pain I finally sleep well thanks to the Lumbo posture cushion",
    "a friend recommended the Lumbo posture cushion and my stiff lower back has never "
    "felt better",
)
CLOSERS = ("Ask for it at your local pharmacy.", "Pharmacies now stock it in three colours.",
           "You deserve to feel comfortable again.", "Do try it, you will thank me.",
           "It is available at most chemists this month.", "Mention it to your pharmacist.")


def campaign(n: int, seed: int) -> list[str]:
    """``n`` distinct variants of the campaign (same seed, same variants)."""
    rng = random.Random(seed)
    seen: list[str] = []
    while len(seen) < n:
        text = f"{rng.choice(OPENERS)} {rng.choice(BODIES)}. {rng.choice(CLOSERS)}"
        if text not in seen:
            seen.append(text)
    return seen


ORDINARY = [
    "The council vote on the new library was postponed again, which is frustrating for parents.",
    "I live near the bypass and the noise has doubled since the lorries were rerouted.",
    "Thanks for covering the flooding; our street was under water for two days.",
    "The article misses that the hospital car park fees were raised last spring.",
    "Interesting piece on the election, though the turnout figure looks too low.",
    "Our football club has struggled with funding for years, good to see it reported.",
    "Does anyone know if the bakery on Mill Street will reopen after the fire?",
    "The headteacher's letter to parents was much clearer than this summary.",
    "I remember when the old cinema was still open; sad to see it demolished.",
    "Great photos of the festival, the lantern parade looked beautiful this year.",
    "Why did nobody ask the police about the response times in the rural villages?",
    "The new cycle lane is a good idea but the junction at the station is dangerous.",
    "My mother was treated at that clinic and the nurses were wonderful.",
    "Rents have gone up by a third in two years; young people cannot stay here.",
    "This reporter always checks the facts, unlike some national papers.",
    "The train strike meant I missed two days of work last month.",
    "I wish the paper would publish the full transcript of the interview.",
    "A balanced article; both sides of the wind farm debate were heard.",
    "The museum's new wing is stunning, well worth a visit with the kids.",
    "Is the roadworks diversion on the high street going to last until Christmas?",
]

# Never labelled: new ordinary comments, some on the campaign's own words (back, pharmacy).
NEW_ORDINARY = [
    "The planning committee should explain why the park was sold to developers.",
    "My back hurts just reading about the queues at the passport office.",
    "Lovely obituary, she taught three generations of our family at the village school.",
    "The weather forecast was wrong again, the marathon runners got soaked.",
    "Could the paper look into the water bills? Ours doubled without explanation.",
    "I went to the pharmacy on the corner and they had run out of flu vaccines.",
    "Congratulations to the rowing team, what a comeback in the final race.",
    "The article says the bridge will close in May but the council website says June.",
]
