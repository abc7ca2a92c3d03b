"""Remember, recall and forget things about the person."""

from __future__ import annotations

import re
from typing import Annotated

from qira.sdk import Permission, Risk, Scope, SearchHit, SkillContext, skill
from qira.sdk.words import plural

# A memory counts as an answer only when it is this close to the question (cosine of the
# embeddings; the search's blended score when a host gives no similarity), and not far
# behind the best one: "where do I live" gets the address, not every fact on record.
RELEVANT = 0.35
WITHIN_BEST = 0.12


@skill(
    description="Remember a fact or preference the person tells you",
    examples=[
        "remember that my sister's name is Ana",
        "remember I parked on level 3",
        "keep in mind that I'm allergic to peanuts",
        "don't forget that my passport expires in May",
        "please remember my wifi password is on the fridge",
        "make a note in your memory that I prefer window seats",
        "remember this: my niece turns five in April",
        "I'd like you to remember that I drink oat milk",
        "commit to memory that the landlord is Mr. Costa",
        "remember for me that the gate code is 1234",
        "save this about me: I'm left-handed",
        "keep in mind that my brother lives in Berlin",
        "remember that I don't like spicy food",
        "my favourite colour is teal, please remember it",
        "note to self for your memory: my shoe size is 42",
        "just so you know, my partner is called Sam",
        "fyi my office is on the fourth floor",
        "file this away: I'm vegetarian on weekdays",
        "memorise that my train leaves from platform 2",
        "store that my cat is named Pixel",
        "remember my husband's birthday is October 9",
        "keep track of the fact that I'm training for a marathon",
        "add to what you know about me: I speak Spanish",
        "for the record, I live in Coimbra",
        "you should know my mother's name is Lucia",
        "I want you to know that my landlord's name is Pedro",
        "store this in your memory: the boiler was serviced in March",
        "please retain that my son's teacher is Mrs. Alves",
        "hold on to this for me: my insurance policy number is AB-2231",
        "remember: the neighbour's dog is called Bolt",
        "keep this in your head, I'm lactose intolerant",
        "make sure you remember my flight is on the 14th",
        "I work night shifts on Tuesdays, remember that",
        "my bank is Millennium, keep it in mind",
        "don't forget: my favourite tea is rooibos",
        "this is important, remember that my daughter is allergic to eggs",
        "I'm telling you this so you remember: Carla is my accountant",
        "remember about me that I'm a night owl",
        "please know that I'm colour blind",
        "save in your memory that my brother's wife is Ines",
        "you need to remember that I don't drive",
        "my pin hint is my first dog's name, remember it",
        "get this into your memory: I was born in Braga",
    ],
    patterns=[
        "remember that {text}",
        "remember {text}",
        "keep in mind that {text}",
        "keep in mind {text}",
        "don't forget that {text}",
        "do not forget that {text}",
    ],
    permissions=[Permission.MEMORY_WRITE],
    risk=Risk.LOW,
    summary="remember that {text}",
)
async def remember(ctx: SkillContext, text: Annotated[str, "the fact to remember, in the person's words"]) -> str:
    # The hub stores it private when the words hold personal data: it never goes to the cloud.
    memory = await ctx.remember(text)
    private = memory.scope is Scope.PRIVATE
    return f"Got it, I'll remember{' (privately: it stays on this hub)' if private else ''}: {memory.text}"


def relevant(hits: list[SearchHit]) -> list[SearchHit]:
    """The hits that answer: close enough to the question, and near the best one."""

    def closeness(hit: SearchHit) -> float:
        return float(hit.explanation.get("similarity", hit.score)) if hit.explanation else float(hit.score)

    if not hits:
        return []
    best = max(closeness(h) for h in hits)
    return [h for h in hits if closeness(h) >= RELEVANT and closeness(h) >= best - WITHIN_BEST]


_SELF = re.compile(r"\b(?:i|me|my|mine|myself)\b", re.IGNORECASE)


def _sentence(texts: list[str]) -> str:
    """The memories as one or two plain sentences, spoken back to the person."""
    said = [_second_person(t.strip().rstrip(".")) for t in texts]
    said = [s[0].upper() + s[1:] for s in said if s]
    return ". ".join(said) + "."


def _second_person(text: str) -> str:
    swaps = {
        "i": "you",
        "me": "you",
        "my": "your",
        "mine": "yours",
        "myself": "yourself",
        "i'm": "you're",
        "am": "are",
        "i've": "you've",
        "i'll": "you'll",
        "i'd": "you'd",
    }
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        core = word.strip(".,!?;:").lower()
        if core in swaps and (core != "am" or (i and words[i - 1].lower() == "i")):
            out.append(word.lower().replace(core, swaps[core], 1))
        else:
            out.append(word)
    return " ".join(out)


@skill(
    description="Answer a question about the person from what they told you: who, where, when, what they prefer",
    examples=[
        "what do you know about my sister",
        "what do you remember about Ana",
        "do you remember where I parked",
        "what have I told you about work",
        "tell me what you know about my allergies",
        "what do you know about me",
        "what's my sister's name",
        "where does my brother live",
        "what's my favourite colour",
        "when does my passport expire",
        "what's the gate code",
        "what kind of milk do I drink",
        "what is my shoe size",
        "which floor did I park on",
        "who is my landlord",
        "what am I allergic to",
        "when is my niece's birthday",
        "what's my mom's phone number",
        "did I tell you my address",
        "how old is my niece",
        "what's my partner called",
        "where is my office",
        "what's my cat's name",
        "which platform does my train leave from",
        "what languages do I speak",
        "what's the code for my gate again",
        "where do my parents live",
        "what do I usually eat for breakfast",
        "what car do I drive",
        "what's my doctor's name",
        "when is my husband's birthday",
        "what did I tell you about my job",
        "remind me what my partner's name is",
        "what's my username for the bank",
        "what is my favourite band",
        "who's my accountant?",
        "what's the name of my son's teacher",
        "how do I like my eggs",
        "which airline do I usually fly with",
        "what did I say my insurance number was",
        "when did I say my flight was",
        "do you recall my dog's name",
        "where do I work",
        "what's my home address",
        "do I have any food allergies",
        "what sports do I play",
        "which days do I go to the gym",
        "what music am I into",
        "what time do I usually wake up",
        "remind me which floor my office is on",
        "what's my neighbour's dog called",
        "have I told you where I was born",
        "what do you have on file about my car",
        "what is it that I'm allergic to again",
        "which restaurant is my favourite",
        "what's my bank",
        "who is Carla to me",
        "how old am I",
        "what am I like in the mornings",
    ],
    patterns=[
        "what do you know about {topic}",
        "what do you remember about {topic}",
        "tell me what you know about {topic}",
        "what have i told you about {topic}",
        "do you remember {topic}",
    ],
    permissions=[Permission.MEMORY_READ],
    read_only=True,
)
async def recall(ctx: SkillContext, topic: Annotated[str, "what to look up"] = "") -> str:
    query = topic if topic and topic.lower() not in ("me", "myself") else ctx.text
    hits = relevant(await ctx.recall(query or ctx.text, k=5))
    if topic.lower() in ("me", "myself") and not hits:
        hits = (await ctx.recall(ctx.text, k=5))[:3]
    if not hits:
        return "I don't know that yet. Tell me and I'll remember it."
    return _sentence([h.memory.text for h in hits[:3]])


@skill(
    description="Forget what you remember about a topic",
    examples=[
        "forget what I told you about my sister",
        "forget my wifi password",
        "delete the memory about where I parked",
        "erase what you know about my ex",
        "stop remembering my address",
        "remove my passport date from your memory",
        "forget everything about my old phone number",
        "clear what you remember about the gate code",
        "don't remember my shoe size anymore",
        "delete what I said about my landlord",
        "I'd like you to forget my allergies",
        "stop remembering where I work",
        "you no longer need to remember my old address",
        "don't keep my phone number anymore",
        "scrub my bank details from your memory",
        "drop what you know about my job",
        "remove what you remember about Carla",
        "clear your memory of my flight",
        "unlearn my shoe size",
        "delete my insurance number from what you know",
        "erase the fact that I smoke",
        "forget I ever told you about my diet",
        "please forget the name of my ex",
        "get rid of what you know about my old car",
        "purge my address from your memory",
        "stop remembering that I work nights",
        "don't remember that I'm single anymore",
    ],
    patterns=[
        "forget what i told you about {topic}",
        "forget everything about {topic}",
        "forget about {topic}",
        "delete the memory about {topic}",
        "erase what you know about {topic}",
        "forget {topic}",
    ],
    permissions=[Permission.MEMORY_READ, Permission.MEMORY_WRITE],
    risk=Risk.HIGH,
    summary="Forget what I remember about {topic}",
)
async def forget(ctx: SkillContext, topic: Annotated[str, "what to forget"]) -> str:
    hits = await ctx.recall(topic, k=5)
    words = {w.lower() for w in topic.split() if len(w) > 2}
    chosen = [h for h in hits if words & {w.strip(".,!?'").lower() for w in h.memory.text.split()}] or hits[:1]
    if not chosen:
        return f"I had nothing about {topic} to forget."
    for hit in chosen:
        await ctx.forget(hit.memory.id)
    return f"Forgotten ({plural(len(chosen), 'memory')}): " + "; ".join(h.memory.text for h in chosen)


SKILLS = [remember, recall, forget]
