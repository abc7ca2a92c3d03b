"""Sensitive topics (health, finances, sexuality, religion, legal trouble) in en, pt, es, de, fr.

A topic is personal only when it is about someone: the same sentence speaks in the
first person or of a relative ("my mother has cancer", "estoy embarazada", "ich bin
schwul"). "What causes Lyme disease?" is a general question and goes out. A drug
with a dose ("20 mg fluoxetine") is someone's medication whoever says it.
"""

from __future__ import annotations

import bisect
import re

from ._kinds import PersonalData

__all__ = ["TOKEN", "find_topics"]

# Stems end with "*": the word may continue ("diagnos*" finds "diagnosed", "diagnóstico").
_LEXICON: dict[PersonalData, str] = {
    PersonalData.HEALTH: """
        diagnos* prescri* medication* medicine* meds pills dosage symptom* therap* psychiatr* psycholog* depress*
        anxiety panic attack* cancer tumor tumour chemo* diabet* insulin hiv aids std sti pregnan* miscarriage
        blood pressure blood test* blood sugar cholesterol surgery allerg* asthma disease* disorder*
        mental health clinic hospital doctor antidepressant* adhd autism autistic epilep* seizure* rehab addict*
        heart rate heart condition migraine* infection* injur* illness sick biopsy mri x-ray chronic pain
        bipolar schizophren* ocd ptsd suicid* self-harm eating disorder anorexi* bulimi* dementia alzheimer*
        parkinson* arthritis hypertension stroke overdose transplant* dialysis transplante* trasplante* diálise
        diálisis dialyse greffe blood type vih sida esquizofren* schizophrén*
        tipo sanguíneo grupo sanguíneo blutgruppe groupe sanguin
        diagnóstic* diagnosticad* remédio* medicament* receita médica sintoma* terapeut* psiquiatr* depressão
        ansiedade câncer cancro quimio* diabete* insulina grávida gravidez aborto pressão alta pressão arterial
        exame de sangue colesterol cirurgia alergi* asma doença* transtorno* saúde mental clínica hospital médic*
        antidepressivo* tdah autismo epilepsia convuls* vício dependência química enxaqueca infecção
        síntoma* enfermedad* trastorno* salud mental depresión ansiedad cáncer embarazada embarazo presión arterial
        análisis de sangre cirugía adicción antidepresivo* receta médica migraña infección
        diagnose* diagnostiziert medikament* rezept symptom* therapie* therapeut* psychiater depression*
        angststörung panikattacke* krebs tumor chemo* zucker blutdruck bluttest* blutzucker cholesterin
        allergi* krankheit* erkrankung* störung* psychische gesundheit klinik krankenhaus arzt ärztin
        antidepressiv* adhs autismus epilepsie anfall sucht süchtig schwanger* fehlgeburt migräne entzündung
        diagnostiqu* médicament* ordonnance symptôme* thérapie* thérapeute psychiatre dépression anxiété
        crise de panique tumeur chimio* diabète insuline enceinte grossesse fausse couche tension artérielle
        prise de sang cholestérol chirurgie maladie* santé mentale clinique hôpital médecin antidépresseur*
        tdah autisme épilepsie convulsion* addiction migraine
    """,
    PersonalData.FINANCES: """
        salary paycheck income debt debts loan loans mortgage overdraft overdrawn bankrupt* credit score owe
        owing bank balance savings net worth tax return unpaid bills
        salário dívida* empréstimo* hipoteca falência endividad* devendo saldo bancário renda mensal
        salario sueldo deuda* préstamo* quiebra bancarrota endeudad* saldo bancario
        gehalt schulden kredit darlehen hypothek insolvenz pleite kontostand verschuldet
        salaire dette* prêt hypothèque faillite découvert endetté* solde bancaire
    """,
    PersonalData.SEXUALITY: """
        gay lesbian bisexual transgender trans queer lgbt* coming out sexual orientation sexuality asexual
        nonbinary non-binary homosexual*
        lésbica bissexual transgênero orientação sexual sair do armário sexualidade homossexual*
        lesbiana bisexual transgénero orientación sexual salir del armario sexualidad
        schwul lesbisch bisexuell transgender sexuelle orientierung sexualität homosexuell*
        homosexuel* lesbienne bisexuel* transgenre orientation sexuelle sexualité
    """,
    PersonalData.RELIGION: """
        religion religious muslim christian catholic jewish jew hindu buddhist atheist agnostic mormon
        jehovah* pray praying
        religião muçulman* cristã* cristão católic* judeu judia evangélic* espírita umbanda candomblé ateu ateia
        rezo rezar
        religión musulmán musulmana cristiano cristiana católic* judío judía ateo atea
        muslimin christ christin katholisch evangelisch jüdisch jude jüdin atheist* bete beten
        musulman* chrétien* catholique juif juive athée prie prier
    """,
    PersonalData.LEGAL: """
        arrested charged with lawsuit sued suing court date court case probation parole criminal record dui dwi
        convicted conviction lawyer attorney custody deport* undocumented immigration status jail prison
        preso presa processad* processo judicial condenad* antecedentes criminais advogad* audiência
        liberdade condicional deportad* prisão
        detenido detenida arrestad* demandad* juicio antecedentes penales abogad* libertad condicional deportación
        cárcel
        verhaftet festgenommen angeklagt verklagt gericht vorbestraft bewährung anwalt anwältin abschiebung
        gefängnis strafverfahren
        arrêté arrêtée inculpé* procès poursuivi* condamné* casier judiciaire avocat avocate liberté conditionnelle
        expulsion prison garde à vue
    """,
}

_FIRST_PERSON = frozenset(
    """
    i i'm i've i'd i'll my mine myself me we we're we've our ours
    eu meu minha meus minhas mim comigo estou tenho sou fui estive tive estava nós nosso nossa
    yo mi mis conmigo estoy tengo soy estuve tuve nosotros nuestro nuestra
    ich mein meine meinen meinem meiner meines mir mich wir unser unsere bin habe hatte
    je moi mon ma nous notre suis
    remember remind profile lembre lembra lembrar recuerda recuérdame merk merke notiere rappelle souviens
""".split()
)
_ELIDED = ("j'", "m'", "j’", "m’")  # French j'ai, m'appelle
# "tell me about diabetes" asks about the world, not about the person
_IMPERSONAL_BEFORE_ME = frozenset("tell help show give explain teach let to".split())
# "how do I file for bankruptcy?" asks how a thing is done, not about the person
_IMPERSONAL_BEFORE_I = frozenset("do can could should would shall might may".split())
TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")  # a word (letters, one apostrophe)
_BOUNDARY = re.compile(r"[.!?](?=\s|$)|\n")  # not the point in "20.000" or "3.5"
# "ich nehme 75 mg ...": taking a dose is medication whatever the drug is called
_TAKES_DOSE = re.compile(
    r"\b(?:take|taking|took|tomo|toma|tomando|tomar|tomei|nehme|nimmt|genommen|prends|prend"
    r"|pris)\b"
    r"[^.!?\n]{0,30}?\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|iu|ui|comprimidos?|tablets?|pills?|tabletten|"
    r"cachets?|gotas|drops|tropfen|gouttes)\b",
    re.I,
)
_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|ug|ml|iu|ui|units|unidades|einheiten|unités|comprimidos?|"
    r"tablets?|pills?|gotas|drops|tropfen|gouttes)\b",
    re.I,
)
_DRUGS = frozenset(
    """
    ibuprofen ibuprofeno paracetamol acetaminophen aspirin aspirina fluoxetine fluoxetin fluoxetina sertraline
    sertralin sertralina escitalopram citalopram paroxetine paroxetina venlafaxine venlafaxina bupropion lithium
    lítio litio metformin metformina insulin insuline insulina lisinopril amlodipine amlodipino amlodipina
    atorvastatin atorvastatina simvastatin simvastatina levothyroxine levotiroxina levothyroxin omeprazole omeprazol
    metoprolol losartan losartana warfarin warfarina prednisone prednisona amoxicillin amoxicilina azithromycin
    azitromicina gabapentin gabapentina tramadol oxycodone oxycodon oxicodona morphine morphin morfina codeine
    codeína codeina diazepam alprazolam lorazepam clonazepam zolpidem methylphenidate methylphenidat metilfenidato
    ritalin ritalina adderall prozac zoloft xanax valium rivotril sildenafil viagra truvada dipirona novalgin
    doliprane efferalgan quetiapine quetiapina olanzapine olanzapina risperidone risperidona lamotrigine lamotrigina
    pregabalin pregabalina mounjaro ozempic semaglutide semaglutida tirzepatide methotrexate metotrexato
    hydroxychloroquine hidroxicloroquina valproate valproato venlafaxin sertralin fluoxetin paroxetin citalopram
    metformin amlodipin atorvastatin simvastatin levothyroxin omeprazol ramipril bisoprolol pantoprazol
""".split()
)


_Phrases = dict[str, list[tuple[tuple[str, ...], PersonalData]]]


def _lexicon() -> tuple[dict[str, PersonalData], dict[str, PersonalData], _Phrases]:
    """Exact words, stems (by prefix) and phrases (by first word) of every topic."""
    exact: dict[str, PersonalData] = {}
    stems: dict[str, PersonalData] = {}
    phrases: _Phrases = {}
    for kind, words in _LEXICON.items():
        for term in _phrases(words):
            parts = tuple(term.split())
            if len(parts) > 1:
                phrases.setdefault(parts[0], []).append((parts[1:], kind))
            elif term.endswith("*"):
                stems[term[:-1]] = kind
            else:
                exact[term] = kind
    return exact, stems, phrases


def _phrases(words: str) -> list[str]:
    """Split a lexicon block into terms, joining the known two- and three-word phrases."""
    tokens = words.split()
    out: list[str] = []
    i = 0
    multi = {
        "panic attack*",
        "blood pressure",
        "blood test*",
        "blood sugar",
        "mental health",
        "heart rate",
        "heart condition",
        "chronic pain",
        "eating disorder",
        "receita médica",
        "pressão alta",
        "pressão arterial",
        "exame de sangue",
        "saúde mental",
        "dependência química",
        "salud mental",
        "presión arterial",
        "análisis de sangre",
        "receta médica",
        "psychische gesundheit",
        "crise de panique",
        "fausse couche",
        "tension artérielle",
        "prise de sang",
        "santé mentale",
        "credit score",
        "bank balance",
        "net worth",
        "tax return",
        "unpaid bills",
        "saldo bancário",
        "renda mensal",
        "saldo bancario",
        "solde bancaire",
        "coming out",
        "sexual orientation",
        "orientação sexual",
        "sair do armário",
        "orientación sexual",
        "salir del armario",
        "sexuelle orientierung",
        "orientation sexuelle",
        "charged with",
        "court date",
        "court case",
        "criminal record",
        "immigration status",
        "processo judicial",
        "antecedentes criminais",
        "liberdade condicional",
        "antecedentes penales",
        "libertad condicional",
        "casier judiciaire",
        "liberté conditionnelle",
        "garde à vue",
        "blood type",
        "tipo sanguíneo",
        "grupo sanguíneo",
        "groupe sanguin",
    }
    while i < len(tokens):
        for n in (3, 2):
            cand = " ".join(tokens[i : i + n])
            if cand in multi:
                out.append(cand)
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


_EXACT, _STEMS, _MULTI = _lexicon()
_STEMS_BY_PREFIX: dict[str, list[tuple[str, PersonalData]]] = {}
for _stem, _kind in _STEMS.items():  # every stem has 4+ letters: index them by their first four
    _STEMS_BY_PREFIX.setdefault(_stem[:4], []).append((_stem, _kind))


def find_topics(text: str, tokens: list[tuple[str, int, int]] | None = None) -> list[tuple[PersonalData, int, int]]:
    """(kind, start, end) of each sensitive topic that is about someone, in ``text``'s offsets.
    ``tokens``: the lower-case words of ``text`` with their offsets, when the caller has them."""
    if tokens is None:
        tokens = [(m.group().lower(), m.start(), m.end()) for m in TOKEN.finditer(text)]
    hits: list[tuple[PersonalData, int, int]] = []
    for i, (word, a, b) in enumerate(tokens):
        kind = _EXACT.get(word)
        if kind is None and len(word) >= 4:
            for stem, stem_kind in _STEMS_BY_PREFIX.get(word[:4], ()):
                if word.startswith(stem):
                    kind = stem_kind
                    break
        if kind is not None:
            hits.append((kind, a, b))
        for rest, phrase_kind in _MULTI.get(word, ()):
            following = tokens[i + 1 : i + 1 + len(rest)]
            if len(following) == len(rest) and all(
                w == r or (r.endswith("*") and w.startswith(r[:-1]))
                for (w, _, _), r in zip(following, rest, strict=True)
            ):
                hits.append((phrase_kind, a, following[-1][2]))
        if word in _DRUGS:
            hits.append((PersonalData.HEALTH, a, b))
    if any(
        u in text
        for u in (
            "mg",
            "mcg",
            "µg",
            "IU",
            "UI",
            "comprim",
            "tablet",
            "Tablet",
            "pill",
            "cachet",
            "gotas",
            "drops",
            "ropfen",
            "gouttes",
        )
    ):
        hits.extend((PersonalData.HEALTH, *m.span()) for m in _TAKES_DOSE.finditer(text))
    if not hits:
        return []
    personal = _personal_sentences(text, tokens)
    out = []
    for kind, a, b in hits:
        sentence = bisect.bisect_right(personal[0], a) - 1
        if sentence >= 0 and personal[1][sentence]:
            out.append((kind, a, b))
        elif (
            kind is PersonalData.HEALTH and text[a:b].lower() in _DRUGS and _DOSE.search(text[max(0, a - 40) : b + 40])
        ):
            out.append((kind, a, b))  # a drug with a dose is someone's medication
    return out


def _personal_sentences(text: str, tokens: list[tuple[str, int, int]]) -> tuple[list[int], list[bool]]:
    """Sentence starts, and whether each speaks in the first person (or of the person's own)."""
    starts = [0] + [m.end() for m in _BOUNDARY.finditer(text)]
    personal = [False] * len(starts)
    previous = ""
    for word, a, _ in tokens:
        first = word in _FIRST_PERSON or word.startswith(_ELIDED)
        if first and (
            (word in ("me", "us") and previous in _IMPERSONAL_BEFORE_ME)
            or (word == "i" and previous in _IMPERSONAL_BEFORE_I)
        ):
            first = False
        if first:
            personal[bisect.bisect_right(starts, a) - 1] = True
        previous = word
    return starts, personal
