"""Ordinary news-site comments, written for this project (not from any data set).

Background ham for every site's own spam model (workers/site_training.py), and the
false-positive probe of the shipped spam model's training (training/train_spam.py).
"""

NEWS_PROSE: tuple[str, ...] = (
    "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot.",
    "I think the council should publish the full budget before the vote next week.",
    "Good article, but the chart on page two seems to mix up the 2019 and 2020 figures.",
    "My grandfather worked at that plant for thirty years, so this story hit home.",
    "Could you follow up on what happens to the tenants after the building is sold?",
    "The interview with the nurse was the best part. More reporting like this, please.",
    "I disagree with the columnist, but it is a fair argument and well written.",
    "Does anyone know whether the new bus route starts in March or in April?",
    "The mayor promised the same thing four years ago and nothing happened.",
    "This is why local journalism matters. Nobody else covered the school closures.",
    "A correction: the bridge opened in 1987, not 1978.",
    "I was at the match on Saturday and the referee's decision was clearly wrong.",
    "Prices at our market have gone up too, especially bread and vegetables.",
    "Well researched, although I would have liked to hear from the farmers themselves.",
    "How will the new rules affect people who already rent their flat out?",
    "My daughter's class was evacuated as well; the teachers handled it calmly.",
)
