"""Deterministic synthetic ("embedded") datasets that stand in offline for real hub datasets.

Each dataset is fully described by ``(task, lang, domain, n_rows, seed, num_labels)``: the same
arguments always give the same rows, with nothing but the standard library. The data is built
from small hand-written lexicons of real words in each language, so that

* tiny randomly initialised transformers (tokenizers trained on :func:`corpus`) can learn a task
  within a few epochs: labels are carried by words, not by subtle syntax;
* a good model still cannot reach 100 %: negation flips words, some opinions are mixed, some
  keywords are shared between topics, and ~5 % of the labels are noisy;
* intermediate-task training has something to transfer: sentiment domains share general opinion
  words ("great", "terrible") next to their own ("gripping", "delicious"), topic domains share
  keyword vocabularies (the "sports" words appear in news and in questions), and all languages
  share digits, names, brands and a few cognates (so cross-lingual transfer exists but is weak).

Tasks and row formats:

* ``sentiment``: ``{"text", "label"}``; 2 labels (negative/positive), 3 (+ neutral) or 5 (stars).
* ``text_classification`` (topic): ``{"text", "label"}``; the label indexes :data:`TOPICS`.
* ``sentence_similarity``: ``{"text", "text_pair", "label"}``; graded score in [0, 5] (STS-B
  style), 5 x the weighted fraction of sentence A's meaning that sentence B keeps.

Lexicon conventions: ``"m|f"`` in French/Spanish sentiment adjectives is the masculine|feminine
form (chosen by the noun's article); ``"a|b"`` in similarity lexicons lists synonyms (swapping
them keeps the meaning, so it keeps the score). ``{name}``, ``{num}``, ``{city}``, ... are
placeholders filled at generation time (see ``_fill``).
"""

from __future__ import annotations

import functools
import random
import re
import zlib
from collections.abc import Iterator

__all__ = ["LANGS", "DOMAINS", "TOPICS", "generate", "label_names", "corpus"]

LANGS: tuple[str, ...] = ("en", "de", "fr", "es")

DOMAINS: dict[str, tuple[str, ...]] = {
    "sentiment": ("products", "movies", "restaurants"),
    "text_classification": ("news", "questions", "wiki"),
    "sentence_similarity": ("general", "news", "biomedical"),
}

# Topic labels per text_classification domain, in label-index order. "sports" is deliberately in
# two domains (same keyword vocabulary) so topic ITT from news to questions has shared signal.
TOPICS: dict[str, tuple[str, ...]] = {
    "news": ("world", "sports", "business", "science"),
    "questions": ("health", "computers", "sports", "family", "education"),
    "wiki": ("company", "artist", "athlete", "place", "animal"),
}

# Share of texts that are paragraph-like (40-120 words); the rest are 6-25 words.
LONG_FRACTION = 0.10
# Share of rows whose text was generated for a different label than the one emitted.
SENTIMENT_LABEL_NOISE = 0.05
TOPIC_LABEL_NOISE = 0.03
# Share of opinion clauses written as a negated opposite ("not terrible" for a positive opinion):
# a bag-of-words model gets these wrong, a model that reads word order need not.
NEGATION_RATE = 0.10
# Share of topic keyword slots filled with a keyword of another topic of the same domain.
DISTRACTOR_RATE = 0.15

# ---------------------------------------------------------------------------------------------
# Tokens shared by all languages: names, brands, cities and digits give every language some common
# vocabulary, so a multilingual tokenizer/model has anchors for (weak) cross-lingual transfer.
# ---------------------------------------------------------------------------------------------
NAMES = ("Anna", "Marco", "Lena", "Tom", "Sofia", "Jonas", "Clara", "David", "Elena", "Paul",
         "Nina", "Luca", "Sara", "Max", "Julia", "Leo")
SURNAMES = ("Keller", "Moreau", "Garcia", "Rossi", "Novak", "Berg", "Silva", "Lindqvist",
            "Weber", "Dubois", "Ortega", "Hansen")
BRANDS = ("Zentra", "Novix", "Kalora", "Brixo", "Velta", "Omnio", "Tarvik", "Lumex", "Quadra",
          "Sorin")
CITIES = ("Berlin", "Paris", "Madrid", "London", "Toronto", "Tokyo", "Sydney", "Chicago", "Oslo",
          "Lisbon", "Dublin", "Zurich")

DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}

# Connectors between two opinion clauses: "and" for the same polarity, "but" for a contrast.
CONNECTORS = {
    "en": ("and", "but"),
    "de": ("und", "aber"),
    "fr": ("et", "mais"),
    "es": ("y", "pero"),
}

# ---------------------------------------------------------------------------------------------
# Sentiment. General opinion words are shared by all domains (what transfers across domains);
# each domain adds its own nouns, opinion words, phrases and neutral filler (what does not).
# Predicative use ("the battery is great") keeps German adjectives uninflected; French/Spanish
# adjectives agree with the noun ("m|f").
# ---------------------------------------------------------------------------------------------
SENTIMENT_GENERAL = {
    "en": {
        "copula": ("is", "is not"),
        "strong": ("really", "extremely", "absolutely", "incredibly"),
        "weak": ("quite", "fairly", "somewhat", "rather"),
        "pos": ("great", "excellent", "fantastic", "wonderful", "perfect", "amazing", "superb",
                "brilliant", "lovely", "outstanding"),
        "neg": ("terrible", "awful", "horrible", "bad", "disappointing", "poor", "dreadful",
                "useless", "lousy", "atrocious"),
        "mixed": ("okay", "average", "acceptable", "fine", "decent", "so-so"),
        "pos_phrases": ("I highly recommend it", "worth the money", "I loved it",
                        "I am very happy with it", "a real pleasure",
                        "it exceeded my expectations"),
        "neg_phrases": ("I do not recommend it", "a complete waste", "I regret it", "never again",
                        "I am very disappointed", "what a letdown"),
        "mixed_phrases": ("nothing special", "it does the job", "it could be better",
                          "not bad, not great", "it is what it is"),
    },
    "de": {
        "copula": ("ist", "ist nicht"),
        "strong": ("wirklich", "extrem", "absolut", "sehr"),
        "weak": ("ziemlich", "eher", "recht", "relativ"),
        "pos": ("toll", "ausgezeichnet", "fantastisch", "wunderbar", "perfekt", "großartig",
                "hervorragend", "super", "klasse", "erstklassig"),
        "neg": ("schrecklich", "furchtbar", "schlecht", "enttäuschend", "miserabel", "mies",
                "grauenhaft", "nutzlos", "katastrophal", "ärgerlich"),
        "mixed": ("okay", "durchschnittlich", "akzeptabel", "in Ordnung", "passabel",
                  "mittelmäßig"),
        "pos_phrases": ("ich kann es nur empfehlen", "jeden Cent wert", "ich bin sehr zufrieden",
                        "hat meine Erwartungen übertroffen", "eine echte Freude",
                        "ich habe es geliebt"),
        "neg_phrases": ("ich rate davon ab", "reine Geldverschwendung", "ich bin sehr enttäuscht",
                        "nie wieder", "ich bereue es", "was für eine Enttäuschung"),
        "mixed_phrases": ("nichts Besonderes", "erfüllt seinen Zweck", "könnte besser sein",
                          "nicht schlecht, nicht toll", "ganz okay"),
    },
    "fr": {
        "copula": ("est", "n'est pas"),
        "strong": ("vraiment", "extrêmement", "absolument", "très"),
        "weak": ("assez", "plutôt", "relativement", "un peu"),
        "pos": ("génial|géniale", "excellent|excellente", "fantastique",
                "merveilleux|merveilleuse", "parfait|parfaite", "incroyable", "superbe",
                "formidable", "magnifique", "super"),
        "neg": ("terrible", "affreux|affreuse", "horrible", "mauvais|mauvaise",
                "décevant|décevante", "nul|nulle", "lamentable", "catastrophique", "minable",
                "pitoyable"),
        "mixed": ("correct|correcte", "moyen|moyenne", "acceptable", "passable", "convenable",
                  "ordinaire"),
        "pos_phrases": ("je le recommande vivement", "ça vaut chaque centime",
                        "je suis très satisfait", "au-delà de mes attentes", "un vrai plaisir",
                        "j'ai adoré"),
        "neg_phrases": ("je ne le recommande pas", "une perte d'argent totale",
                        "je suis très déçu", "plus jamais", "je le regrette", "quelle déception"),
        "mixed_phrases": ("rien de spécial", "ça fait le travail", "ça pourrait être mieux",
                          "pas mal, sans plus", "ça reste correct"),
    },
    "es": {
        "copula": ("es", "no es"),
        "strong": ("muy", "realmente", "extremadamente", "absolutamente"),
        "weak": ("bastante", "algo", "relativamente", "un poco"),
        "pos": ("genial", "excelente", "fantástico|fantástica", "maravilloso|maravillosa",
                "perfecto|perfecta", "increíble", "estupendo|estupenda", "magnífico|magnífica",
                "buenísimo|buenísima", "súper"),
        "neg": ("terrible", "horrible", "malo|mala", "pésimo|pésima", "decepcionante", "fatal",
                "espantoso|espantosa", "lamentable", "desastroso|desastrosa", "inútil"),
        "mixed": ("normal", "regular", "aceptable", "correcto|correcta", "pasable", "corriente"),
        "pos_phrases": ("lo recomiendo totalmente", "vale cada céntimo", "estoy muy contento",
                        "superó mis expectativas", "un verdadero placer", "me encantó"),
        "neg_phrases": ("no lo recomiendo", "una pérdida de dinero", "estoy muy decepcionado",
                        "nunca más", "me arrepiento", "qué decepción"),
        "mixed_phrases": ("nada especial", "cumple su función", "podría ser mejor",
                          "ni bueno ni malo", "está bien sin más"),
    },
}

# Per domain and language: aspects (a group of nouns plus the domain opinion words that fit them,
# so there is no "the waiter is delicious"), set phrases, and neutral filler with placeholders.
SENTIMENT_DOMAIN = {
    "products": {
        "en": {
            "aspects": (
                {"nouns": ("the phone", "the headset", "the camera", "the charger", "the cable",
                           "the case", "the product", "the keyboard"),
                 "pos": ("reliable", "sturdy", "solid", "durable", "well made", "sleek", "handy",
                         "practical"),
                 "neg": ("flimsy", "defective", "broken", "faulty", "fragile", "unreliable",
                         "cheaply made", "wobbly")},
                {"nouns": ("the battery", "the sound", "the screen", "the connection"),
                 "pos": ("fast", "powerful", "strong", "stable", "consistent"),
                 "neg": ("slow", "weak", "unstable", "laggy", "patchy")},
            ),
            "pos_phrases": ("it works perfectly", "it arrived quickly", "best purchase this year",
                            "I would buy it again", "easy to set up"),
            "neg_phrases": ("it stopped working after {num} days", "I sent it back",
                            "the {brand} support never answered", "I returned it immediately",
                            "it broke after a week"),
            "fillers": ("I ordered the {brand} model on {day}", "it cost {num} euros",
                        "the package came from {city}", "{name} bought the same one",
                        "I use it every day", "I have had it for {num} weeks"),
        },
        "de": {
            "aspects": (
                {"nouns": ("das Handy", "das Headset", "die Kamera", "das Ladegerät", "das Kabel",
                           "die Hülle", "das Produkt", "die Tastatur"),
                 "pos": ("zuverlässig", "robust", "solide", "langlebig", "gut verarbeitet",
                         "elegant", "handlich", "praktisch"),
                 "neg": ("wackelig", "defekt", "kaputt", "fehlerhaft", "zerbrechlich",
                         "unzuverlässig", "billig verarbeitet", "klapprig")},
                {"nouns": ("der Akku", "der Klang", "der Bildschirm", "die Verbindung"),
                 "pos": ("schnell", "leistungsstark", "stark", "stabil", "konstant"),
                 "neg": ("langsam", "schwach", "instabil", "träge", "lückenhaft")},
            ),
            "pos_phrases": ("funktioniert einwandfrei", "kam schnell an",
                            "bester Kauf dieses Jahr", "würde es wieder kaufen",
                            "leicht einzurichten"),
            "neg_phrases": ("nach {num} Tagen ging es kaputt", "ich habe es zurückgeschickt",
                            "der {brand} Support hat nie geantwortet", "sofort zurückgegeben",
                            "nach einer Woche funktionierte es nicht mehr"),
            "fillers": ("ich habe das {brand} Modell am {day} bestellt",
                        "es hat {num} Euro gekostet", "das Paket kam aus {city}",
                        "{name} hat das gleiche gekauft", "ich benutze es jeden Tag",
                        "ich habe es seit {num} Wochen"),
        },
        "fr": {
            "aspects": (
                {"nouns": ("le téléphone", "le casque", "la caméra", "le chargeur", "le câble",
                           "la coque", "le produit", "le clavier"),
                 "pos": ("fiable", "robuste", "solide", "durable", "bien fini|bien finie",
                         "élégant|élégante", "maniable", "pratique"),
                 "neg": ("fragile", "défectueux|défectueuse", "cassé|cassée", "bancal|bancale",
                         "mal fini|mal finie", "peu fiable", "bas de gamme",
                         "branlant|branlante")},
                {"nouns": ("la batterie", "le son", "la connexion", "le processeur"),
                 "pos": ("rapide", "puissant|puissante", "fort|forte", "stable",
                         "constant|constante"),
                 "neg": ("lent|lente", "faible", "instable", "poussif|poussive",
                         "irrégulier|irrégulière")},
            ),
            "pos_phrases": ("il fonctionne parfaitement", "livré rapidement",
                            "meilleur achat de l'année", "je l'achèterais encore",
                            "facile à installer"),
            "neg_phrases": ("il a cessé de fonctionner après {num} jours", "je l'ai renvoyé",
                            "le support {brand} n'a jamais répondu", "retourné immédiatement",
                            "il est tombé en panne au bout d'une semaine"),
            "fillers": ("j'ai commandé le modèle {brand} {day}", "il a coûté {num} euros",
                        "le colis venait de {city}", "{name} a acheté le même",
                        "je l'utilise tous les jours", "je l'ai depuis {num} semaines"),
        },
        "es": {
            "aspects": (
                {"nouns": ("el teléfono", "el altavoz", "la cámara", "el cargador", "el cable",
                           "la funda", "el producto", "el teclado"),
                 "pos": ("fiable", "robusto|robusta", "sólido|sólida", "duradero|duradera",
                         "bien acabado|bien acabada", "elegante", "manejable",
                         "práctico|práctica"),
                 "neg": ("frágil", "defectuoso|defectuosa", "roto|rota", "endeble",
                         "mal acabado|mal acabada", "poco fiable", "cutre", "tambaleante")},
                {"nouns": ("la batería", "el sonido", "la pantalla", "la conexión"),
                 "pos": ("rápido|rápida", "potente", "fuerte", "estable", "constante"),
                 "neg": ("lento|lenta", "débil", "inestable", "irregular", "flojo|floja")},
            ),
            "pos_phrases": ("funciona perfectamente", "llegó muy rápido",
                            "la mejor compra del año", "lo volvería a comprar",
                            "fácil de configurar"),
            "neg_phrases": ("dejó de funcionar a los {num} días", "lo devolví",
                            "el soporte de {brand} nunca respondió", "devuelto inmediatamente",
                            "se estropeó en una semana"),
            "fillers": ("pedí el modelo {brand} el {day}", "costó {num} euros",
                        "el paquete vino de {city}", "{name} compró el mismo",
                        "lo uso todos los días", "lo tengo desde hace {num} semanas"),
        },
    },
    "movies": {
        "en": {
            "aspects": (
                {"nouns": ("the film", "the plot", "the story", "the script", "the ending",
                           "the dialogue", "the trailer"),
                 "pos": ("gripping", "moving", "hilarious", "captivating", "clever", "touching",
                         "thrilling", "original"),
                 "neg": ("boring", "predictable", "dull", "confusing", "cheesy", "slow",
                         "pointless", "clichéd")},
                {"nouns": ("the acting", "the cast", "the soundtrack", "the camera work",
                           "the cinematography"),
                 "pos": ("stunning", "convincing", "masterful", "inspired", "memorable"),
                 "neg": ("wooden", "amateurish", "forgettable", "uninspired", "flat")},
            ),
            "pos_phrases": ("a must see", "I was on the edge of my seat",
                            "I laughed the whole time", "I want to watch it again",
                            "the best film of the year"),
            "neg_phrases": ("I almost fell asleep", "I walked out after {num} minutes",
                            "two hours I will never get back", "the worst film of the year",
                            "I checked my phone constantly"),
            "fillers": ("we saw it in {city} on {day}", "{name} chose the film",
                        "the tickets cost {num} euros", "the cinema was half empty",
                        "I watched it with {name}", "it came out in {year}"),
        },
        "de": {
            "aspects": (
                {"nouns": ("der Film", "die Handlung", "die Geschichte", "das Drehbuch",
                           "das Ende", "der Dialog", "der Trailer"),
                 "pos": ("fesselnd", "bewegend", "urkomisch", "packend", "clever", "berührend",
                         "spannend", "originell"),
                 "neg": ("langweilig", "vorhersehbar", "öde", "verwirrend", "kitschig",
                         "langatmig", "sinnlos", "klischeehaft")},
                {"nouns": ("das Schauspiel", "die Besetzung", "der Soundtrack",
                           "die Kameraarbeit", "die Bildsprache"),
                 "pos": ("atemberaubend", "überzeugend", "meisterhaft", "inspiriert",
                         "einprägsam"),
                 "neg": ("hölzern", "dilettantisch", "belanglos", "uninspiriert", "flach")},
            ),
            "pos_phrases": ("ein Muss", "ich saß auf der Stuhlkante",
                            "ich habe die ganze Zeit gelacht", "ich will ihn nochmal sehen",
                            "der beste Film des Jahres"),
            "neg_phrases": ("ich bin fast eingeschlafen", "ich bin nach {num} Minuten gegangen",
                            "zwei verlorene Stunden", "der schlechteste Film des Jahres",
                            "ich habe ständig aufs Handy geschaut"),
            "fillers": ("wir haben ihn am {day} in {city} gesehen",
                        "{name} hat den Film ausgesucht", "die Karten kosteten {num} Euro",
                        "das Kino war halb leer", "ich habe ihn mit {name} geschaut",
                        "er kam {year} heraus"),
        },
        "fr": {
            "aspects": (
                {"nouns": ("le film", "le scénario", "le récit", "la fin", "le dialogue",
                           "la bande-annonce"),
                 "pos": ("captivant|captivante", "émouvant|émouvante", "hilarant|hilarante",
                         "prenant|prenante", "intelligent|intelligente", "touchant|touchante",
                         "palpitant|palpitante", "original|originale"),
                 "neg": ("ennuyeux|ennuyeuse", "prévisible", "fade", "confus|confuse",
                         "niais|niaise", "lent|lente", "inutile", "cliché")},
                {"nouns": ("le jeu des acteurs", "le casting", "la musique", "la photographie",
                           "la mise en scène"),
                 "pos": ("époustouflant|époustouflante", "convaincant|convaincante",
                         "magistral|magistrale", "inspiré|inspirée", "mémorable"),
                 "neg": ("rigide", "amateur", "oubliable", "sans inspiration", "plat|plate")},
            ),
            "pos_phrases": ("à voir absolument", "j'étais scotché à mon siège",
                            "j'ai ri du début à la fin", "je veux le revoir",
                            "le meilleur film de l'année"),
            "neg_phrases": ("j'ai failli m'endormir", "je suis parti après {num} minutes",
                            "deux heures perdues", "le pire film de l'année",
                            "j'ai regardé mon téléphone sans arrêt"),
            "fillers": ("on l'a vu à {city} {day}", "{name} a choisi le film",
                        "les billets ont coûté {num} euros", "la salle était à moitié vide",
                        "je l'ai regardé avec {name}", "il est sorti en {year}"),
        },
        "es": {
            "aspects": (
                {"nouns": ("la película", "el guion", "la historia", "el final", "el diálogo",
                           "el tráiler", "la trama"),
                 "pos": ("apasionante", "conmovedor|conmovedora", "divertidísimo|divertidísima",
                         "cautivador|cautivadora", "ingenioso|ingeniosa", "emotivo|emotiva",
                         "trepidante", "original"),
                 "neg": ("aburrido|aburrida", "predecible", "soso|sosa", "confuso|confusa",
                         "cursi", "lento|lenta", "absurdo|absurda", "trillado|trillada")},
                {"nouns": ("la actuación", "el reparto", "la música", "la fotografía",
                           "la dirección"),
                 "pos": ("impresionante", "convincente", "magistral", "inspirado|inspirada",
                         "memorable"),
                 "neg": ("acartonado|acartonada", "amateur", "olvidable", "sin inspiración",
                         "plano|plana")},
            ),
            "pos_phrases": ("imprescindible", "estuve al borde del asiento",
                            "me reí todo el rato", "quiero volver a verla",
                            "la mejor película del año"),
            "neg_phrases": ("casi me duermo", "me fui a los {num} minutos", "dos horas perdidas",
                            "la peor película del año", "miré el móvil todo el rato"),
            "fillers": ("la vimos en {city} el {day}", "{name} eligió la película",
                        "las entradas costaron {num} euros", "el cine estaba medio vacío",
                        "la vi con {name}",
                        "se estrenó en {year}"),
        },
    },
    "restaurants": {
        "en": {
            "aspects": (
                {"nouns": ("the food", "the soup", "the pizza", "the chicken", "the pasta",
                           "the dessert", "the dish", "the bread"),
                 "pos": ("delicious", "tasty", "fresh", "flavorful", "generous",
                         "perfectly cooked"),
                 "neg": ("bland", "greasy", "cold", "overcooked", "salty", "stale", "tasteless",
                         "undercooked")},
                {"nouns": ("the waiter", "the staff", "the service", "the waitress", "the owner"),
                 "pos": ("friendly", "attentive", "helpful", "welcoming", "quick"),
                 "neg": ("rude", "slow", "unfriendly", "careless", "arrogant")},
                {"nouns": ("the dining room", "the terrace", "the place"),
                 "pos": ("cozy", "charming", "clean", "quiet"),
                 "neg": ("dirty", "noisy", "cramped", "crowded")},
            ),
            "pos_phrases": ("we will definitely come back", "every bite was a joy",
                            "the chef knows what he is doing", "we left very satisfied",
                            "the best pasta in town"),
            "neg_phrases": ("we waited {num} minutes for our food", "we will never come back",
                            "I got sick afterwards", "the bill was a shock",
                            "half of the dish went back to the kitchen"),
            "fillers": ("we were {num} people", "we booked a table for {day}",
                        "{name} ordered the fish", "the restaurant is near the station in {city}",
                        "we paid {num} euros in total", "it was our first visit"),
        },
        "de": {
            "aspects": (
                {"nouns": ("das Essen", "die Suppe", "die Pizza", "das Hähnchen", "die Pasta",
                           "das Dessert", "das Gericht", "das Brot"),
                 "pos": ("lecker", "köstlich", "frisch", "würzig", "reichlich", "perfekt gegart"),
                 "neg": ("fade", "fettig", "kalt", "verkocht", "versalzen", "altbacken",
                         "geschmacklos", "roh")},
                {"nouns": ("der Kellner", "das Personal", "der Service", "die Kellnerin",
                           "der Besitzer"),
                 "pos": ("freundlich", "aufmerksam", "hilfsbereit", "herzlich", "flott"),
                 "neg": ("unhöflich", "langsam", "unfreundlich", "nachlässig", "arrogant")},
                {"nouns": ("der Speisesaal", "die Terrasse", "das Lokal"),
                 "pos": ("gemütlich", "charmant", "sauber", "ruhig"),
                 "neg": ("schmutzig", "laut", "eng", "überfüllt")},
            ),
            "pos_phrases": ("wir kommen auf jeden Fall wieder", "jeder Bissen war ein Genuss",
                            "der Koch versteht sein Handwerk", "wir sind sehr zufrieden gegangen",
                            "die beste Pasta der Stadt"),
            "neg_phrases": ("wir haben {num} Minuten auf das Essen gewartet",
                            "wir kommen nie wieder", "mir war danach schlecht",
                            "die Rechnung war ein Schock", "die Hälfte ging zurück in die Küche"),
            "fillers": ("wir waren {num} Personen", "wir hatten einen Tisch für {day} reserviert",
                        "{name} hat den Fisch bestellt",
                        "das Restaurant liegt am Bahnhof in {city}",
                        "wir haben insgesamt {num} Euro bezahlt", "es war unser erster Besuch"),
        },
        "fr": {
            "aspects": (
                {"nouns": ("le repas", "la soupe", "la pizza", "le poulet", "le dessert",
                           "le plat", "le pain"),
                 "pos": ("délicieux|délicieuse", "savoureux|savoureuse", "frais|fraîche",
                         "parfumé|parfumée", "copieux|copieuse",
                         "parfaitement cuit|parfaitement cuite"),
                 "neg": ("fade", "gras|grasse", "froid|froide", "trop cuit|trop cuite",
                         "trop salé|trop salée", "rassis|rassise", "insipide", "cru|crue")},
                {"nouns": ("le serveur", "le personnel", "le service", "la serveuse",
                           "le patron"),
                 "pos": ("aimable", "attentionné|attentionnée", "serviable",
                         "accueillant|accueillante", "rapide"),
                 "neg": ("impoli|impolie", "lent|lente", "désagréable", "négligent|négligente",
                         "arrogant|arrogante")},
                {"nouns": ("la salle", "la terrasse", "le lieu"),
                 "pos": ("chaleureux|chaleureuse", "charmant|charmante", "propre", "calme"),
                 "neg": ("sale", "bruyant|bruyante", "exigu|exiguë", "bondé|bondée")},
            ),
            "pos_phrases": ("nous reviendrons sans hésiter", "chaque bouchée était un plaisir",
                            "le chef connaît son métier", "nous sommes repartis ravis",
                            "la meilleure pizza de la ville"),
            "neg_phrases": ("nous avons attendu {num} minutes pour manger",
                            "nous ne reviendrons jamais", "j'ai été malade après",
                            "l'addition était un choc",
                            "la moitié du plat est retournée en cuisine"),
            "fillers": ("nous étions {num}", "nous avions réservé une table pour {day}",
                        "{name} a pris le poisson", "le restaurant est près de la gare à {city}",
                        "nous avons payé {num} euros au total", "c'était notre première visite"),
        },
        "es": {
            "aspects": (
                {"nouns": ("la comida", "la sopa", "la pizza", "el pollo", "la pasta",
                           "el postre", "el plato", "el pan"),
                 "pos": ("delicioso|deliciosa", "sabroso|sabrosa", "fresco|fresca",
                         "aromático|aromática", "abundante", "en su punto"),
                 "neg": ("soso|sosa", "grasiento|grasienta", "frío|fría", "pasado|pasada",
                         "salado|salada", "duro|dura", "insípido|insípida", "crudo|cruda")},
                {"nouns": ("el camarero", "el personal", "el servicio", "la camarera",
                           "el dueño"),
                 "pos": ("amable", "atento|atenta", "servicial", "acogedor|acogedora",
                         "rápido|rápida"),
                 "neg": ("maleducado|maleducada", "lento|lenta", "antipático|antipática",
                         "descuidado|descuidada", "arrogante")},
                {"nouns": ("el comedor", "la terraza", "el local"),
                 "pos": ("acogedor|acogedora", "encantador|encantadora", "limpio|limpia",
                         "tranquilo|tranquila"),
                 "neg": ("sucio|sucia", "ruidoso|ruidosa", "estrecho|estrecha",
                         "abarrotado|abarrotada")},
            ),
            "pos_phrases": ("volveremos sin duda", "cada bocado fue un placer",
                            "el cocinero sabe lo que hace", "salimos muy satisfechos",
                            "la mejor pasta de la ciudad"),
            "neg_phrases": ("esperamos {num} minutos por la comida", "no volveremos nunca",
                            "me sentó fatal", "la cuenta fue un susto",
                            "la mitad del plato volvió a la cocina"),
            "fillers": ("éramos {num} personas", "reservamos mesa para el {day}",
                        "{name} pidió el pescado",
                        "el restaurante está cerca de la estación de {city}",
                        "pagamos {num} euros en total", "fue nuestra primera visita"),
        },
    },
}

# Label sets of the sentiment task; every label is realised through star ratings, so the binary,
# 3-way and 5-star variants of a domain read alike.
SENTIMENT_LABELS = {
    2: ("negative", "positive"),
    3: ("negative", "neutral", "positive"),
    5: ("1 star", "2 stars", "3 stars", "4 stars", "5 stars"),
}
_LABEL_STARS = {
    2: ((1, 2), (4, 5)),
    3: ((1, 2), (3,), (4, 5)),
    5: ((1,), (2,), (3,), (4,), (5,)),
}
# Star -> (P(positive opinion), P(negative opinion), intensifiers); the rest are mixed opinions.
# Extremes are nearly pure and intense, 2/4 stars are hedged, 3 stars are mostly "okay".
_STAR_PROFILE = {
    1: (0.04, 0.88, "strong"),
    2: (0.05, 0.83, "weak"),
    3: (0.18, 0.18, "weak"),
    4: (0.83, 0.05, "weak"),
    5: (0.88, 0.04, "strong"),
}

# ---------------------------------------------------------------------------------------------
# Topic classification. Keywords are bare nouns/noun phrases slotted into domain templates. A few
# keywords sit in two lists on purpose (e.g. "sanctions" in world and business, "record" in sports
# and business) so topics are not perfectly separable.
# ---------------------------------------------------------------------------------------------
TOPIC_KEYWORDS = {
    "en": {
        "world": ("government", "election", "president", "parliament", "minister", "embassy",
                  "refugees", "border", "treaty", "protest", "ceasefire", "diplomats",
                  "sanctions", "summit", "trade", "climate"),
        "sports": ("match", "goal", "championship", "coach", "season", "tournament", "team",
                   "striker", "league", "stadium", "final", "referee", "transfer", "medal",
                   "record", "training"),
        "business": ("market", "shares", "profits", "company", "investors", "inflation", "bank",
                     "merger", "revenue", "trade", "startup", "prices", "economy", "sanctions",
                     "record", "technology"),
        "science": ("research", "scientists", "study", "telescope", "climate", "laboratory",
                    "species", "experiment", "physics", "planet", "vaccine", "data",
                    "technology", "discovery", "team"),
        "health": ("doctor", "symptoms", "headache", "diet", "vitamins", "blood pressure",
                   "sleep", "medicine", "allergy", "fever", "exercise", "pain", "weight",
                   "infection", "pregnancy"),
        "computers": ("laptop", "Windows", "software", "virus", "keyboard", "printer", "wifi",
                      "password", "browser", "hard drive", "update", "screen", "memory",
                      "email"),
        "family": ("parents", "husband", "wife", "kids", "teenager", "wedding", "divorce",
                   "sister", "mother-in-law", "birthday", "baby", "relationship", "father",
                   "chores", "school", "pregnancy"),
        "education": ("teacher", "homework", "exam", "university", "math", "essay", "grades",
                      "school", "degree", "scholarship", "lecture", "class", "student", "thesis",
                      "email"),
        "company": ("founded", "headquarters", "subsidiary", "manufacturer", "employees",
                    "products", "brand", "corporation", "software", "retailer",
                    "chief executive", "factory", "shareholders", "airline", "record label"),
        "artist": ("painter", "album", "singer", "exhibition", "gallery", "novel", "songs",
                   "band", "sculptor", "composer", "poet", "guitarist", "paintings",
                   "record label"),
        "athlete": ("footballer", "midfielder", "olympic medal", "cyclist", "sprinter",
                    "goalkeeper", "national team", "club", "world cup", "tennis player", "boxer",
                    "marathon", "professional", "championship"),
        "place": ("village", "river", "municipality", "district", "population", "mountain",
                  "valley", "town", "province", "lake", "coast", "region", "island", "census",
                  "habitat"),
        "animal": ("species", "genus", "beetle", "moth", "bird", "snail", "fish", "habitat",
                   "predator", "insect", "mammal", "frog", "reptile", "larvae", "wingspan"),
    },
    "de": {
        "world": ("Regierung", "Wahl", "Präsident", "Parlament", "Minister", "Botschaft",
                  "Flüchtlinge", "Grenze", "Vertrag", "Protest", "Waffenruhe", "Diplomaten",
                  "Sanktionen", "Gipfel", "Handel", "Klima"),
        "sports": ("Spiel", "Tor", "Meisterschaft", "Trainer", "Saison", "Turnier", "Mannschaft",
                   "Stürmer", "Liga", "Stadion", "Finale", "Schiedsrichter", "Transfer",
                   "Medaille", "Rekord", "Training"),
        "business": ("Markt", "Aktien", "Gewinne", "Unternehmen", "Anleger", "Inflation", "Bank",
                     "Fusion", "Umsatz", "Handel", "Startup", "Preise", "Wirtschaft",
                     "Sanktionen", "Rekord", "Technologie"),
        "science": ("Forschung", "Wissenschaftler", "Studie", "Teleskop", "Klima", "Labor",
                    "Arten", "Experiment", "Physik", "Planet", "Impfstoff", "Daten",
                    "Technologie", "Entdeckung", "Team"),
        "health": ("Arzt", "Symptome", "Kopfschmerzen", "Ernährung", "Vitamine", "Blutdruck",
                   "Schlaf", "Medikamente", "Allergie", "Fieber", "Sport", "Schmerzen",
                   "Gewicht", "Infektion", "Schwangerschaft"),
        "computers": ("Laptop", "Windows", "Software", "Virus", "Tastatur", "Drucker", "WLAN",
                      "Passwort", "Browser", "Festplatte", "Update", "Bildschirm",
                      "Arbeitsspeicher", "E-Mail"),
        "family": ("Eltern", "Ehemann", "Ehefrau", "Kinder", "Teenager", "Hochzeit", "Scheidung",
                   "Schwester", "Schwiegermutter", "Geburtstag", "Baby", "Beziehung", "Vater",
                   "Hausarbeit", "Schule", "Schwangerschaft"),
        "education": ("Lehrer", "Hausaufgaben", "Prüfung", "Universität", "Mathe", "Aufsatz",
                      "Noten", "Schule", "Abschluss", "Stipendium", "Vorlesung", "Klasse",
                      "Student", "Abschlussarbeit", "E-Mail"),
        "company": ("Gründung", "Hauptsitz", "Tochtergesellschaft", "Hersteller", "Mitarbeiter",
                    "Produkte", "Marke", "Konzern", "Software", "Einzelhändler",
                    "Geschäftsführer", "Fabrik", "Aktionäre", "Fluggesellschaft",
                    "Plattenlabel"),
        "artist": ("Maler", "Album", "Sängerin", "Ausstellung", "Galerie", "Roman", "Lieder",
                   "Band", "Bildhauer", "Komponist", "Dichter", "Gitarrist", "Gemälde",
                   "Plattenlabel"),
        "athlete": ("Fußballspieler", "Mittelfeldspieler", "Olympiamedaille", "Radfahrer",
                    "Sprinter", "Torwart", "Nationalmannschaft", "Verein", "Weltmeisterschaft",
                    "Tennisspieler", "Boxer", "Marathon", "Profi", "Meisterschaft"),
        "place": ("Dorf", "Fluss", "Gemeinde", "Bezirk", "Einwohner", "Berg", "Tal", "Stadt",
                  "Provinz", "See", "Küste", "Region", "Insel", "Volkszählung", "Lebensraum"),
        "animal": ("Art", "Gattung", "Käfer", "Motte", "Vogel", "Schnecke", "Fisch",
                   "Lebensraum", "Raubtier", "Insekt", "Säugetier", "Frosch", "Reptil", "Larven",
                   "Flügelspannweite"),
    },
    "fr": {
        "world": ("gouvernement", "élection", "président", "parlement", "ministre", "ambassade",
                  "réfugiés", "frontière", "traité", "manifestation", "cessez-le-feu",
                  "diplomates", "sanctions", "sommet", "commerce", "climat"),
        "sports": ("match", "but", "championnat", "entraîneur", "saison", "tournoi", "équipe",
                   "attaquant", "ligue", "stade", "finale", "arbitre", "transfert", "médaille",
                   "record", "entraînement"),
        "business": ("marché", "actions", "bénéfices", "entreprise", "investisseurs",
                     "inflation", "banque", "fusion", "chiffre d'affaires", "commerce",
                     "startup", "prix", "économie", "sanctions", "record", "technologie"),
        "science": ("recherche", "scientifiques", "étude", "télescope", "climat", "laboratoire",
                    "espèces", "expérience", "physique", "planète", "vaccin", "données",
                    "technologie", "découverte", "équipe"),
        "health": ("médecin", "symptômes", "migraine", "régime", "vitamines",
                   "tension artérielle", "sommeil", "médicaments", "allergie", "fièvre",
                   "sport", "douleur", "poids", "infection", "grossesse"),
        "computers": ("ordinateur portable", "Windows", "logiciel", "virus", "clavier",
                      "imprimante", "wifi", "mot de passe", "navigateur", "disque dur",
                      "mise à jour", "écran", "mémoire", "e-mail"),
        "family": ("parents", "mari", "femme", "enfants", "adolescent", "mariage", "divorce",
                   "sœur", "belle-mère", "anniversaire", "bébé", "relation", "père",
                   "tâches ménagères", "école", "grossesse"),
        "education": ("professeur", "devoirs", "examen", "université", "maths", "dissertation",
                      "notes", "école", "diplôme", "bourse", "cours magistral", "classe",
                      "étudiant", "mémoire", "e-mail"),
        "company": ("fondation", "siège social", "filiale", "fabricant", "salariés", "produits",
                    "marque", "groupe industriel", "logiciel", "détaillant", "directeur général",
                    "usine", "actionnaires", "compagnie aérienne", "label"),
        "artist": ("peintre", "album", "chanteuse", "exposition", "galerie", "roman", "chansons",
                   "groupe de rock", "sculpteur", "compositeur", "poète", "guitariste",
                   "tableaux", "label"),
        "athlete": ("footballeur", "milieu de terrain", "médaille olympique", "cycliste",
                    "sprinteur", "gardien de but", "équipe nationale", "club", "coupe du monde",
                    "joueur de tennis", "boxeur", "marathon", "professionnel", "championnat"),
        "place": ("village", "rivière", "commune", "district", "population", "montagne",
                  "vallée", "ville", "province", "lac", "côte", "région", "île", "recensement",
                  "habitat"),
        "animal": ("espèce", "genre", "coléoptère", "papillon de nuit", "oiseau", "escargot",
                   "poisson", "habitat", "prédateur", "insecte", "mammifère", "grenouille",
                   "reptile", "larves", "envergure"),
    },
    "es": {
        "world": ("gobierno", "elecciones", "presidente", "parlamento", "ministro", "embajada",
                  "refugiados", "frontera", "tratado", "protestas", "alto el fuego",
                  "diplomáticos", "sanciones", "cumbre", "comercio", "clima"),
        "sports": ("partido", "gol", "campeonato", "entrenador", "temporada", "torneo", "equipo",
                   "delantero", "liga", "estadio", "final", "árbitro", "fichaje", "medalla",
                   "récord", "entrenamiento"),
        "business": ("mercado", "acciones", "beneficios", "empresa", "inversores", "inflación",
                     "banco", "fusión", "ingresos", "comercio", "startup", "precios",
                     "economía", "sanciones", "récord", "tecnología"),
        "science": ("investigación", "científicos", "estudio", "telescopio", "clima",
                    "laboratorio", "especies", "experimento", "física", "planeta", "vacuna",
                    "datos", "tecnología", "descubrimiento", "equipo"),
        "health": ("médico", "síntomas", "dolor de cabeza", "dieta", "vitaminas",
                   "presión arterial", "sueño", "medicamentos", "alergia", "fiebre", "deporte",
                   "dolor", "peso", "infección", "embarazo"),
        "computers": ("portátil", "Windows", "software", "virus", "teclado", "impresora", "wifi",
                      "contraseña", "navegador", "disco duro", "actualización", "pantalla",
                      "memoria", "correo"),
        "family": ("padres", "marido", "esposa", "hijos", "adolescente", "boda", "divorcio",
                   "hermana", "suegra", "cumpleaños", "bebé", "relación", "padre",
                   "tareas de casa", "colegio", "embarazo"),
        "education": ("profesor", "deberes", "examen", "universidad", "matemáticas", "redacción",
                      "notas", "colegio", "título", "beca", "clase magistral", "clase",
                      "estudiante", "tesis", "correo"),
        "company": ("fundación", "sede", "filial", "fabricante", "empleados", "productos",
                    "marca", "grupo empresarial", "software", "minorista", "director ejecutivo",
                    "fábrica", "accionistas", "aerolínea", "discográfica"),
        "artist": ("pintor", "álbum", "cantante", "exposición", "galería", "novela", "canciones",
                   "banda", "escultor", "compositor", "poeta", "guitarrista", "cuadros",
                   "discográfica"),
        "athlete": ("futbolista", "centrocampista", "medalla olímpica", "ciclista", "velocista",
                    "portero", "selección nacional", "club", "mundial", "tenista", "boxeador",
                    "maratón", "profesional", "campeonato"),
        "place": ("pueblo", "río", "municipio", "distrito", "población", "montaña", "valle",
                  "ciudad", "provincia", "lago", "costa", "región", "isla", "censo", "hábitat"),
        "animal": ("especie", "género", "escarabajo", "polilla", "ave", "caracol", "pez",
                   "hábitat", "depredador", "insecto", "mamífero", "rana", "reptil", "larvas",
                   "envergadura"),
    },
}

# Domain-typical phrasing, independent of the topic ({k} = a keyword of the text's topic), plus
# topic-free filler sentences. Headlines for news, forum questions for questions, encyclopaedic
# statements for wiki.
TOPIC_TEMPLATES = {
    "news": {
        "en": {
            "templates": ("{k} and {k} dominate the talks in {city}",
                          "report: {k} in focus after {k}", "{name} comments on {k} and {k}",
                          "new figures on {k} published on {day}",
                          "officials in {city} discuss {k}",
                          "analysts expect more {k} this week",
                          "latest update on {k}, {k} and {k}", "{num} questions about {k}"),
            "fillers": ("more details to follow", "read more on page {num}",
                        "reporting by {name} in {city}", "the story is developing",
                        "updated on {day}"),
        },
        "de": {
            "templates": ("{k} und {k} bestimmen die Gespräche in {city}",
                          "Bericht: {k} im Fokus nach {k}", "{name} äußert sich zu {k} und {k}",
                          "neue Zahlen zu {k} am {day} veröffentlicht",
                          "Beamte in {city} beraten über {k}",
                          "Analysten erwarten diese Woche mehr {k}",
                          "aktuelle Meldung zu {k}, {k} und {k}", "{num} Fragen zu {k}"),
            "fillers": ("weitere Details folgen", "mehr auf Seite {num}",
                        "Bericht von {name} aus {city}", "die Lage entwickelt sich weiter",
                        "aktualisiert am {day}"),
        },
        "fr": {
            "templates": ("{k} et {k} dominent les discussions à {city}",
                          "rapport : {k} au centre de l'attention après {k}",
                          "{name} commente {k} et {k}", "nouveaux chiffres sur {k} publiés {day}",
                          "des responsables à {city} discutent de {k}",
                          "les analystes attendent plus de {k} cette semaine",
                          "dernières nouvelles sur {k}, {k} et {k}", "{num} questions sur {k}"),
            "fillers": ("plus de détails à suivre", "lire la suite page {num}",
                        "reportage de {name} à {city}", "la situation évolue",
                        "mis à jour {day}"),
        },
        "es": {
            "templates": ("{k} y {k} dominan las conversaciones en {city}",
                          "informe: {k} en el foco tras {k}", "{name} comenta sobre {k} y {k}",
                          "nuevas cifras sobre {k} publicadas el {day}",
                          "responsables en {city} debaten sobre {k}",
                          "los analistas esperan más {k} esta semana",
                          "última hora sobre {k}, {k} y {k}", "{num} preguntas sobre {k}"),
            "fillers": ("más detalles en breve", "más información en la página {num}",
                        "información de {name} desde {city}",
                        "la situación sigue en desarrollo", "actualizado el {day}"),
        },
    },
    "questions": {
        "en": {
            "templates": ("how do I deal with {k} and {k}?", "what is the best {k} for {k}?",
                          "why is {k} so hard?", "does anyone know about {k}?",
                          "is {k} related to {k}?", "any tips on {k} and {k}?",
                          "my {k} has a problem with {k}, what should I do?",
                          "should I worry about {k}?"),
            "fillers": ("thanks in advance", "any help is appreciated", "I am {num} years old",
                        "I asked {name} but got no answer", "please help",
                        "best answer gets points"),
        },
        "de": {
            "templates": ("wie gehe ich mit {k} und {k} um?", "was hilft am besten bei {k}?",
                          "warum ist {k} so schwierig?", "kennt sich jemand mit {k} aus?",
                          "hängt {k} mit {k} zusammen?", "habt ihr Tipps zu {k} und {k}?",
                          "ich habe ein Problem mit {k} und {k}, was soll ich tun?",
                          "muss ich mir wegen {k} Sorgen machen?"),
            "fillers": ("danke im Voraus", "jede Hilfe ist willkommen", "ich bin {num} Jahre alt",
                        "ich habe {name} gefragt, aber keine Antwort bekommen",
                        "bitte helft mir", "die beste Antwort bekommt Punkte"),
        },
        "fr": {
            "templates": ("comment gérer {k} et {k} ?", "quel est le meilleur conseil pour {k} ?",
                          "pourquoi {k} est si difficile ?", "quelqu'un s'y connaît en {k} ?",
                          "est-ce que {k} est lié à {k} ?", "des conseils sur {k} et {k} ?",
                          "j'ai un problème avec {k} et {k}, que faire ?",
                          "dois-je m'inquiéter pour {k} ?"),
            "fillers": ("merci d'avance", "toute aide est la bienvenue", "j'ai {num} ans",
                        "j'ai demandé à {name} mais sans réponse", "aidez-moi svp",
                        "la meilleure réponse gagne des points"),
        },
        "es": {
            "templates": ("¿cómo manejo {k} y {k}?", "¿qué es lo mejor para {k}?",
                          "¿por qué {k} es tan difícil?", "¿alguien sabe de {k}?",
                          "¿tiene que ver {k} con {k}?", "¿algún consejo sobre {k} y {k}?",
                          "tengo un problema con {k} y {k}, ¿qué hago?",
                          "¿debería preocuparme por {k}?"),
            "fillers": ("gracias de antemano", "cualquier ayuda es bienvenida", "tengo {num} años",
                        "le pregunté a {name} pero no respondió", "ayuda por favor",
                        "la mejor respuesta se lleva puntos"),
        },
    },
    "wiki": {
        "en": {
            "templates": ("{ent} is known for {k} and {k}",
                          "in {year}, {ent} became notable for {k}", "{ent} is associated with {k}",
                          "sources describe {ent} in connection with {k} and {k}",
                          "the article on {ent} covers {k}, {k} and {k}",
                          "{ent} is mentioned in the context of {k}"),
            "fillers": ("see also the list of references",
                        "the article was last edited in {year}", "more information is needed",
                        "it has {num} citations", "this page is a stub"),
        },
        "de": {
            "templates": ("{ent} ist bekannt für {k} und {k}",
                          "{year} wurde {ent} durch {k} bekannt",
                          "{ent} wird mit {k} in Verbindung gebracht",
                          "Quellen beschreiben {ent} im Zusammenhang mit {k} und {k}",
                          "der Artikel über {ent} behandelt {k}, {k} und {k}",
                          "{ent} wird im Kontext von {k} erwähnt"),
            "fillers": ("siehe auch die Liste der Einzelnachweise",
                        "der Artikel wurde zuletzt {year} bearbeitet",
                        "weitere Informationen werden benötigt", "er hat {num} Belege",
                        "dieser Artikel ist unvollständig"),
        },
        "fr": {
            "templates": ("{ent} est connu pour {k} et {k}",
                          "en {year}, {ent} s'est fait remarquer pour {k}",
                          "{ent} est associé à {k}",
                          "les sources décrivent {ent} en lien avec {k} et {k}",
                          "l'article sur {ent} traite de {k}, {k} et {k}",
                          "{ent} est mentionné dans le contexte de {k}"),
            "fillers": ("voir aussi la liste des références",
                        "l'article a été modifié pour la dernière fois en {year}",
                        "plus d'informations sont nécessaires", "il compte {num} références",
                        "cet article est une ébauche"),
        },
        "es": {
            "templates": ("{ent} es conocido por {k} y {k}", "en {year}, {ent} destacó por {k}",
                          "{ent} está asociado con {k}",
                          "las fuentes describen a {ent} en relación con {k} y {k}",
                          "el artículo sobre {ent} trata de {k}, {k} y {k}",
                          "{ent} se menciona en el contexto de {k}"),
            "fillers": ("véase también la lista de referencias",
                        "el artículo se editó por última vez en {year}",
                        "se necesita más información", "tiene {num} referencias",
                        "este artículo es un esbozo"),
        },
    },
}

# ---------------------------------------------------------------------------------------------
# Sentence similarity. A sentence is a template whose slots are filled with meaning units; a
# paraphrase keeps some units (possibly as a synonym, "a|b") and replaces the others with
# different units of the same slot. Subjects are singular so verbs agree in every language.
# ---------------------------------------------------------------------------------------------
SIMILARITY_LEXICON = {
    "general": {
        "en": {
            "subj": ("the old man|the elderly man", "a young woman", "the little boy|the small boy",
                     "my neighbour", "the teacher", "a tourist", "the girl", "our cook"),
            "verb": ("sells", "paints", "photographs", "carries", "buys|purchases", "cleans",
                     "watches|looks at", "repairs|fixes"),
            "obj": ("an old lamp", "the red car", "a large box|a big box", "a blue suitcase",
                    "the garden gate", "an old bicycle", "a wooden chair", "a small table"),
            "adv": ("slowly", "carefully", "happily", "quietly", "quickly|rapidly", "patiently"),
            "place": ("in the park", "at the station", "in the garden", "on the beach",
                      "near the river", "in the kitchen"),
            "time": ("in the morning", "this afternoon", "on Sunday", "after dinner",
                     "every day|daily", "at night"),
        },
        "de": {
            "subj": ("der alte Mann|der ältere Herr", "eine junge Frau", "der kleine Junge",
                     "mein Nachbar", "die Lehrerin", "ein Tourist", "das Mädchen", "unser Koch"),
            "verb": ("verkauft", "malt", "fotografiert", "trägt", "kauft|erwirbt",
                     "putzt|reinigt", "betrachtet|beobachtet", "repariert"),
            "obj": ("eine alte Lampe", "das rote Auto", "eine große Kiste", "einen blauen Koffer",
                    "das Gartentor", "ein altes Fahrrad", "einen Holzstuhl",
                    "einen kleinen Tisch"),
            "adv": ("langsam", "vorsichtig|sorgfältig", "fröhlich", "leise", "schnell|rasch",
                    "geduldig"),
            "place": ("im Park", "am Bahnhof", "im Garten", "am Strand", "am Fluss",
                      "in der Küche"),
            "time": ("am Morgen|morgens", "heute Nachmittag", "am Sonntag",
                     "nach dem Abendessen", "jeden Tag|täglich", "in der Nacht|nachts"),
        },
        "fr": {
            "subj": ("le vieil homme|le vieux monsieur", "une jeune femme", "le petit garçon",
                     "mon voisin", "l'enseignante", "un touriste", "la petite fille",
                     "notre cuisinier"),
            "verb": ("vend", "peint", "photographie", "porte", "achète", "nettoie",
                     "regarde|observe", "répare"),
            "obj": ("une vieille lampe", "la voiture rouge", "une grande boîte|un grand carton",
                    "une valise bleue", "le portail du jardin", "un vieux vélo",
                    "une chaise en bois", "une petite table"),
            "adv": ("lentement", "prudemment|soigneusement", "joyeusement",
                    "silencieusement|tranquillement", "rapidement|vite", "patiemment"),
            "place": ("dans le parc", "à la gare", "dans le jardin", "sur la plage",
                      "près de la rivière", "dans la cuisine"),
            "time": ("le matin", "cet après-midi", "dimanche", "après le dîner",
                     "tous les jours|chaque jour", "la nuit"),
        },
        "es": {
            "subj": ("el anciano|el hombre mayor", "una mujer joven", "el niño pequeño",
                     "mi vecino", "la profesora", "un turista", "la niña", "nuestro cocinero"),
            "verb": ("vende", "pinta", "fotografía", "lleva", "compra|adquiere", "limpia",
                     "mira|observa", "repara|arregla"),
            "obj": ("una lámpara antigua", "el coche rojo", "una caja grande", "una maleta azul",
                    "la puerta del jardín", "una bicicleta vieja", "una silla de madera",
                    "una mesa pequeña"),
            "adv": ("despacio|lentamente", "con cuidado", "alegremente", "en silencio",
                    "rápidamente|deprisa", "con paciencia"),
            "place": ("en el parque", "en la estación", "en el jardín", "en la playa",
                      "cerca del río", "en la cocina"),
            "time": ("por la mañana", "esta tarde", "el domingo", "después de cenar",
                     "todos los días|cada día", "por la noche"),
        },
    },
    "news": {
        "en": {
            "subj": ("the government|the administration", "the central bank",
                     "the prime minister", "the union", "the company|the firm", "the court",
                     "the mayor", "the opposition"),
            "verb": ("announced|declared", "rejected", "approved", "criticized",
                     "postponed|delayed", "investigated", "proposed", "defended"),
            "obj": ("a new tax plan", "the budget", "the trade agreement|the trade deal",
                    "the election results", "a pension reform", "the new law", "the strike",
                    "the interest rates"),
            "adv": ("officially", "publicly", "unexpectedly|surprisingly", "again", "firmly",
                    "quietly"),
            "place": ("in the capital", "in parliament", "at a press conference",
                      "at the summit", "in Berlin", "in Brussels"),
            "time": ("on Tuesday", "last week", "yesterday", "this morning",
                     "earlier this year", "on Friday evening"),
        },
        "de": {
            "subj": ("die Regierung", "die Zentralbank", "der Premierminister|der Regierungschef",
                     "die Gewerkschaft", "das Unternehmen|die Firma", "das Gericht",
                     "der Bürgermeister", "die Opposition"),
            "verb": ("verkündete|erklärte", "verwarf", "billigte|genehmigte", "kritisierte",
                     "verschob|vertagte", "untersuchte", "forderte", "verteidigte"),
            "obj": ("einen neuen Steuerplan", "den Haushalt", "das Handelsabkommen",
                    "die Wahlergebnisse", "eine Rentenreform", "das neue Gesetz", "den Streik",
                    "die Leitzinsen"),
            "adv": ("offiziell", "öffentlich", "überraschend|unerwartet", "erneut|wieder",
                    "entschieden", "stillschweigend"),
            "place": ("in der Hauptstadt", "im Parlament", "auf einer Pressekonferenz",
                      "auf dem Gipfel", "in Berlin", "in Brüssel"),
            "time": ("am Dienstag", "letzte Woche|vergangene Woche", "gestern", "heute Morgen",
                     "Anfang des Jahres", "am Freitagabend"),
        },
        "fr": {
            "subj": ("le gouvernement", "la banque centrale",
                     "le premier ministre|le chef du gouvernement", "le syndicat",
                     "l'entreprise|la société", "le tribunal", "le maire", "l'opposition"),
            "verb": ("a annoncé|a déclaré", "a rejeté", "a approuvé|a validé", "a critiqué",
                     "a reporté|a repoussé", "a examiné", "a proposé", "a défendu"),
            "obj": ("un nouveau plan fiscal", "le budget", "l'accord commercial",
                    "les résultats des élections", "une réforme des retraites", "la nouvelle loi",
                    "la grève", "les taux d'intérêt"),
            "adv": ("officiellement", "publiquement",
                    "de manière inattendue|à la surprise générale", "à nouveau|de nouveau",
                    "fermement", "discrètement"),
            "place": ("dans la capitale", "au parlement", "lors d'une conférence de presse",
                      "au sommet", "à Paris", "à Bruxelles"),
            "time": ("mardi", "la semaine dernière|la semaine passée", "hier", "ce matin",
                     "en début d'année", "vendredi soir"),
        },
        "es": {
            "subj": ("el gobierno", "el banco central", "el primer ministro|el jefe del gobierno",
                     "el sindicato", "la empresa|la compañía", "el tribunal", "el alcalde",
                     "la oposición"),
            "verb": ("anunció|declaró", "rechazó", "aprobó", "criticó", "aplazó|pospuso",
                     "investigó", "propuso", "defendió"),
            "obj": ("un nuevo plan fiscal", "el presupuesto", "el acuerdo comercial",
                    "los resultados electorales", "una reforma de las pensiones", "la nueva ley",
                    "la huelga", "los tipos de interés"),
            "adv": ("oficialmente", "públicamente", "de forma inesperada|por sorpresa",
                    "de nuevo|otra vez", "con firmeza", "discretamente"),
            "place": ("en la capital", "en el parlamento", "en una rueda de prensa",
                      "en la cumbre", "en Madrid", "en Bruselas"),
            "time": ("el martes", "la semana pasada", "ayer", "esta mañana",
                     "a principios de año", "el viernes por la noche"),
        },
    },
    "biomedical": {
        "en": {
            "subj": ("the treatment|the therapy", "the enzyme", "the new drug|the new medication",
                     "the vaccine", "the protein", "the inhibitor", "the antibody",
                     "the intervention"),
            "verb": ("reduced|decreased", "increased|raised", "inhibited|blocked",
                     "altered|changed", "improved", "worsened", "stabilized",
                     "affected|influenced"),
            "obj": ("blood glucose levels", "the inflammatory response", "protein expression",
                    "the viral load", "insulin resistance", "cell proliferation",
                    "the risk of infection", "liver function"),
            "adv": ("significantly|markedly", "rapidly", "moderately", "consistently",
                    "in a dose-dependent manner", "transiently"),
            "place": ("in the liver", "in vitro", "in the control group", "in plasma samples",
                      "in the brain", "in clinical trials"),
            "time": ("after two weeks", "within 24 hours", "during treatment", "at baseline",
                     "after surgery", "over six months"),
        },
        "de": {
            "subj": ("die Behandlung|die Therapie", "das Enzym",
                     "das neue Medikament|der neue Wirkstoff", "der Impfstoff", "das Protein",
                     "der Hemmstoff|der Inhibitor", "der Antikörper", "die Intervention"),
            "verb": ("senkte|reduzierte", "erhöhte|steigerte", "hemmte|blockierte", "veränderte",
                     "verbesserte", "verschlechterte", "stabilisierte", "beeinflusste"),
            "obj": ("den Blutzuckerspiegel", "die Entzündungsreaktion", "die Proteinexpression",
                    "die Viruslast", "die Insulinresistenz", "die Zellproliferation",
                    "das Infektionsrisiko", "die Leberfunktion"),
            "adv": ("signifikant|deutlich", "schnell", "moderat|mäßig", "konsistent",
                    "dosisabhängig", "vorübergehend"),
            "place": ("in der Leber", "in vitro", "in der Kontrollgruppe", "in Plasmaproben",
                      "im Gehirn", "in klinischen Studien"),
            "time": ("nach zwei Wochen", "innerhalb von 24 Stunden", "während der Behandlung",
                     "zu Studienbeginn", "nach der Operation", "über sechs Monate"),
        },
        "fr": {
            "subj": ("le traitement|la thérapie", "l'enzyme", "le nouveau médicament",
                     "le vaccin", "la protéine", "l'inhibiteur", "l'anticorps",
                     "l'intervention"),
            "verb": ("a réduit|a diminué", "a augmenté|a accru", "a inhibé|a bloqué",
                     "a modifié", "a amélioré", "a aggravé", "a stabilisé", "a influencé"),
            "obj": ("la glycémie", "la réponse inflammatoire", "l'expression des protéines",
                    "la charge virale", "la résistance à l'insuline", "la prolifération cellulaire",
                    "le risque d'infection", "la fonction hépatique"),
            "adv": ("significativement|nettement", "rapidement", "modérément",
                    "de façon constante", "de manière dose-dépendante", "transitoirement"),
            "place": ("dans le foie", "in vitro", "dans le groupe témoin",
                      "dans les échantillons de plasma", "dans le cerveau",
                      "dans les essais cliniques"),
            "time": ("après deux semaines", "en 24 heures", "pendant le traitement",
                     "à l'inclusion", "après la chirurgie", "sur six mois"),
        },
        "es": {
            "subj": ("el tratamiento|la terapia", "la enzima",
                     "el nuevo fármaco|el nuevo medicamento",
                     "la vacuna", "la proteína", "el inhibidor", "el anticuerpo",
                     "la intervención"),
            "verb": ("redujo|disminuyó", "aumentó|elevó", "inhibió|bloqueó", "modificó|alteró",
                     "mejoró", "empeoró", "estabilizó", "influyó en"),
            "obj": ("los niveles de glucosa", "la respuesta inflamatoria",
                    "la expresión de proteínas", "la carga viral", "la resistencia a la insulina",
                    "la proliferación celular", "el riesgo de infección", "la función hepática"),
            "adv": ("significativamente|notablemente", "rápidamente", "moderadamente",
                    "de forma constante", "de manera dependiente de la dosis",
                    "transitoriamente"),
            "place": ("en el hígado", "in vitro", "en el grupo de control", "en muestras de plasma",
                      "en el cerebro", "en ensayos clínicos"),
            "time": ("a las dos semanas", "en 24 horas", "durante el tratamiento",
                     "al inicio del estudio", "tras la cirugía", "durante seis meses"),
        },
    },
}

# Clause templates per language, in groups of paraphrases: every template of a group has the same
# slots, so sentence B may use another word order of A's group (German: verb-second inversion).
SIMILARITY_TEMPLATES = {
    "en": (
        ("{subj} {verb} {obj} {adv}", "{subj} {adv} {verb} {obj}"),
        ("{subj} {verb} {obj} {place}", "{place}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {time}", "{time}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {place} {time}", "{time}, {subj} {verb} {obj} {place}"),
        ("{subj} {adv} {verb} {obj} {place} {time}", "{time}, {subj} {verb} {obj} {adv} {place}"),
    ),
    "de": (
        ("{subj} {verb} {obj} {adv}", "{adv} {verb} {subj} {obj}"),
        ("{subj} {verb} {obj} {place}", "{place} {verb} {subj} {obj}"),
        ("{subj} {verb} {time} {obj}", "{time} {verb} {subj} {obj}"),
        ("{subj} {verb} {time} {obj} {place}", "{time} {verb} {subj} {obj} {place}"),
        ("{subj} {verb} {time} {obj} {adv} {place}", "{time} {verb} {subj} {adv} {obj} {place}"),
    ),
    "fr": (
        ("{subj} {verb} {obj} {adv}", "{adv}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {place}", "{place}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {time}", "{time}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {place} {time}", "{time}, {subj} {verb} {obj} {place}"),
        ("{subj} {verb} {obj} {adv} {place} {time}", "{time}, {subj} {verb} {obj} {adv} {place}"),
    ),
    "es": (
        ("{subj} {verb} {obj} {adv}", "{adv}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {place}", "{place}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {time}", "{time}, {subj} {verb} {obj}"),
        ("{subj} {verb} {obj} {place} {time}", "{time}, {subj} {verb} {obj} {place}"),
        ("{subj} {verb} {obj} {adv} {place} {time}", "{time}, {subj} {verb} {obj} {adv} {place}"),
    ),
}

# How much of a sentence's meaning each slot carries: who/does/what matter most, the
# circumstances less. The score is 5 x (kept weight / total weight).
SLOT_WEIGHTS = {"subj": 1.0, "verb": 1.0, "obj": 1.0, "adv": 0.4, "place": 0.6, "time": 0.5}
SCORE_NOISE = 0.25  # standard deviation of annotator-like noise added to the score

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def generate(task: str, lang: str, domain: str, n_rows: int, seed: int,
             num_labels: int | None = None) -> list[dict]:
    """Rows for one dataset. task in {"sentiment", "text_classification", "sentence_similarity"}.

    sentiment / text_classification rows: ``{"text": str, "label": int}`` with balanced labels.
    sentence_similarity rows: ``{"text": str, "text_pair": str, "label": float}``, a graded
    score in [0, 5] on a 0.2 grid. ``num_labels``: sentiment 2 (default), 3 or 5; topics 2 up to
    the domain's topic count (default: all; restricts to the first k topics); similarity None or 1.
    Same arguments -> identical rows, and the first k rows do not depend on ``n_rows``.
    Raises ValueError (one line naming the bad value and the valid ones) for unknown
    task/lang/domain or an unsupported ``num_labels``.
    """
    k = _resolve(task, domain, num_labels)
    if lang not in LANGS:
        raise ValueError(f"unknown lang {lang!r}; valid: {', '.join(LANGS)}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ValueError(f"n_rows={n_rows!r}; valid: an int >= 0")
    rng = random.Random(_dataset_seed(seed, task, lang, domain, k))
    if task == "sentence_similarity":
        return [_similarity_row(rng, lang, domain) for _ in range(n_rows)]
    rows = []
    for label in _balanced_labels(rng, n_rows, k):
        if task == "sentiment":
            text = _sentiment_text(rng, lang, domain, _noisy_sentiment_label(rng, label, k), k)
        else:
            text = _topic_text(rng, lang, domain, _noisy_label(rng, label, k, TOPIC_LABEL_NOISE), k)
        rows.append({"text": text, "label": label})
    return rows


def label_names(task: str, domain: str, num_labels: int | None = None) -> list[str]:
    """Label names in index order for classification tasks (e.g. ["negative", "positive"], or the
    topic names of the domain); [] for sentence_similarity."""
    k = _resolve(task, domain, num_labels)
    if task == "sentiment":
        return list(SENTIMENT_LABELS[k])
    if task == "text_classification":
        return list(TOPICS[domain][:k])
    return []


def corpus(seed: int = 0) -> Iterator[str]:
    """A few thousand texts across all tasks, languages and domains, for training tokenizers.

    Covers the 5-star sentiment variant (its hedged wording) and both sides of similarity pairs.
    """
    rows_per_dataset = 70
    for task, domains in DOMAINS.items():
        for domain in domains:
            for lang in LANGS:
                num_labels = 5 if task == "sentiment" else None
                for row in generate(task, lang, domain, rows_per_dataset, seed, num_labels):
                    yield row["text"]
                    if "text_pair" in row:
                        yield row["text_pair"]


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


# rng.choice/randint/randrange cost ~10x more than rng.random() in CPython and dominate generation
# time; these equivalents keep 20k rows well under a second (and are just as deterministic).
def _pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _randint(rng: random.Random, a: int, b: int) -> int:
    return a + int(rng.random() * (b - a + 1))


def _resolve(task: str, domain: str, num_labels: int | None) -> int:
    """Validate task/domain/num_labels; return the effective number of labels (0 for regression)."""
    if task not in DOMAINS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(DOMAINS)}")
    if domain not in DOMAINS[task]:
        raise ValueError(f"unknown domain {domain!r} for task {task!r}; valid: "
                         f"{', '.join(DOMAINS[task])}")
    if task == "sentence_similarity":
        if num_labels not in (None, 1):
            raise ValueError(f"num_labels={num_labels!r} for sentence_similarity (a regression "
                             "task); valid: None or 1")
        return 0
    if task == "sentiment":
        if num_labels is None:
            return 2
        if num_labels not in SENTIMENT_LABELS:
            raise ValueError(f"num_labels={num_labels!r} for sentiment; valid: "
                             f"{', '.join(map(str, SENTIMENT_LABELS))}")
        return num_labels
    n_topics = len(TOPICS[domain])
    if num_labels is None:
        return n_topics
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) \
            or not 2 <= num_labels <= n_topics:
        raise ValueError(f"num_labels={num_labels!r} for text_classification/{domain}; valid: "
                         f"2..{n_topics}")
    return num_labels


def _dataset_seed(seed: int, task: str, lang: str, domain: str, k: int) -> int:
    # crc32, not hash(): Python salts str hashes per process, which would break reproducibility.
    return zlib.crc32(f"{seed}|{task}|{lang}|{domain}|{k}".encode())


def _balanced_labels(rng: random.Random, n_rows: int, k: int) -> Iterator[int]:
    """Labels in shuffled blocks of k: counts differ by at most one, and prefixes are stable."""
    block: list[int] = []
    for _ in range(n_rows):
        if not block:
            block = list(range(k))
            rng.shuffle(block)
        yield block.pop()


def _noisy_label(rng: random.Random, label: int, k: int, rate: float) -> int:
    """The label the text is written for: usually ``label``, with probability ``rate`` another."""
    if rng.random() >= rate:
        return label
    other = _below(rng, k - 1)
    return other + (other >= label)


def _noisy_sentiment_label(rng: random.Random, label: int, k: int) -> int:
    """Like ``_noisy_label``, but star ratings are ordinal: a mislabelled star is off by one."""
    if k != 5:
        return _noisy_label(rng, label, k, SENTIMENT_LABEL_NOISE)
    if rng.random() >= SENTIMENT_LABEL_NOISE:
        return label
    if label in (0, 4):
        return 1 if label == 0 else 3
    return label + _pick(rng, (-1, 1))


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# template -> [literal, placeholder, literal, ...] (re.split with a group), parsed once.
_PARSED: dict[str, list[str]] = {}


def _parse(template: str) -> list[str]:
    parts = _PARSED.get(template)
    if parts is None:
        parts = _PARSED[template] = _PLACEHOLDER.split(template)
    return parts


def _fill(text: str, rng: random.Random, lang: str, keyword=None) -> str:
    """Fill {name}, {brand}, {city}, {num}, {year}, {day}, {ent} (and {k} by calling keyword())."""
    parts = _parse(text)
    if len(parts) == 1:
        return text
    out = parts[:]
    for i in range(1, len(parts), 2):
        out[i] = keyword() if parts[i] == "k" else _placeholder(parts[i], rng, lang)
    return "".join(out)


def _placeholder(key: str, rng: random.Random, lang: str) -> str:
    if key == "name":
        return _pick(rng, NAMES)
    if key == "num":
        return str(_randint(rng, 2, 60))
    if key == "city":
        return _pick(rng, CITIES)
    if key == "brand":
        return _pick(rng, BRANDS)
    if key == "day":
        return _pick(rng, DAYS[lang])
    if key == "year":
        return str(_randint(rng, 1950, 2023))
    if key == "ent":  # an encyclopaedia entry: a person, a brand or a city
        r = rng.random()
        if r < 0.5:
            return f"{_pick(rng, NAMES)} {_pick(rng, SURNAMES)}"
        return _pick(rng, BRANDS) if r < 0.8 else _pick(rng, CITIES)
    raise KeyError(f"unknown placeholder {{{key}}}")


def _sentence(text: str) -> str:
    """Capitalise the first letter (after a leading "¿"/"¡", not after a digit); end with a stop."""
    i = 1 if text[0] in "¿¡" else 0
    text = text[:i] + text[i].upper() + text[i + 1:]
    return text if text[-1] in ".?!" else text + "."


def _words(text: str) -> int:
    return text.count(" ") + 1


# --- sentiment --------------------------------------------------------------------------------

def _agree(adjective: str, noun: str) -> str:
    """Pick the masculine or feminine form of an "m|f" adjective from the noun's article."""
    if "|" not in adjective:
        return adjective
    masculine, feminine = adjective.split("|")
    return feminine if noun.startswith("la ") else masculine


_OPPOSITE = {"pos": "neg", "neg": "pos"}


def _opinion(rng: random.Random, lang: str, domain: str, polarity: str, strength: str) -> str:
    """One opinion clause of the given polarity ("pos", "neg" or "mixed")."""
    general = SENTIMENT_GENERAL[lang]
    specific = SENTIMENT_DOMAIN[domain][lang]
    if rng.random() < 0.3:  # a set phrase ("I highly recommend it")
        if polarity == "mixed":
            return _pick(rng, general["mixed_phrases"])
        source = general if rng.random() < 0.5 else specific
        return _fill(_pick(rng, source[polarity + "_phrases"]), rng, lang)
    aspect = _pick(rng, specific["aspects"])
    noun = _pick(rng, aspect["nouns"])
    copula, negated_copula = general["copula"]
    if polarity == "mixed":
        adjective = _agree(_pick(rng, general["mixed"]), noun)
        if rng.random() < 0.3:
            adjective = f"{_pick(rng, general['weak'])} {adjective}"
        return f"{noun} {copula} {adjective}"
    # Half the opinion words are general (shared by all domains), half domain-specific.
    source = general if rng.random() < 0.5 else aspect
    if rng.random() < NEGATION_RATE:  # "not terrible" for a positive opinion
        adjective = _agree(_pick(rng, source[_OPPOSITE[polarity]]), noun)
        return f"{noun} {negated_copula} {adjective}"
    adjective = _agree(_pick(rng, source[polarity]), noun)
    if rng.random() < 0.5:
        adjective = f"{_pick(rng, general[strength])} {adjective}"
    return f"{noun} {copula} {adjective}"


def _sentiment_text(rng: random.Random, lang: str, domain: str, label: int, k: int) -> str:
    star = _pick(rng, _LABEL_STARS[k][label])
    p_pos, p_neg, strength = _STAR_PROFILE[star]
    long = rng.random() < LONG_FRACTION
    n_opinions = _randint(rng, 5, 9) if long else _pick(rng, (1, 2, 2, 3, 3, 3))
    n_fillers = _randint(rng, 2, 4) if long else int(rng.random() < 0.35)

    units: list[tuple[str, str]] = []  # (polarity or "filler", clause)
    for _ in range(n_opinions):
        r = rng.random()
        polarity = "pos" if r < p_pos else "neg" if r < p_pos + p_neg else "mixed"
        units.append((polarity, _opinion(rng, lang, domain, polarity, strength)))
    fillers = SENTIMENT_DOMAIN[domain][lang]["fillers"]
    for _ in range(n_fillers):
        units.append(("filler", _fill(_pick(rng, fillers), rng, lang)))
    rng.shuffle(units)

    # Pair up neighbouring opinion clauses with "and" / "but" into one sentence.
    and_, but = CONNECTORS[lang]
    sentences, i = [], 0
    while i < len(units):
        polarity, clause = units[i]
        if (polarity != "filler" and i + 1 < len(units) and units[i + 1][0] != "filler"
                and rng.random() < 0.5):
            connector = and_ if units[i + 1][0] == polarity else but
            clause = f"{clause} {connector} {units[i + 1][1]}"
            i += 1
        sentences.append(_sentence(clause))
        i += 1
    text = " ".join(sentences)
    # Very short reviews get a neutral sentence so texts are mostly >= 6 words.
    while _words(text) < (40 if long else 6):
        text += " " + _sentence(_fill(_pick(rng, fillers), rng, lang))
    return text


# --- topic classification --------------------------------------------------------------------

def _topic_text(rng: random.Random, lang: str, domain: str, label: int, k: int) -> str:
    topics = TOPICS[domain][:k]
    own = TOPIC_KEYWORDS[lang][topics[label]]
    others = [t for t in topics if t != topics[label]]
    spec = TOPIC_TEMPLATES[domain][lang]

    used: set[str] = set()

    def keyword() -> str:
        for _ in range(3):  # avoid "products and products" (a few redraws, then accept)
            if rng.random() < DISTRACTOR_RATE:
                word = _pick(rng, TOPIC_KEYWORDS[lang][_pick(rng, others)])
            else:
                word = _pick(rng, own)
            if word not in used:
                break
        used.add(word)
        return word

    long = rng.random() < LONG_FRACTION
    target_keywords = _randint(rng, 8, 16) if long else _randint(rng, 2, 4)
    sentences: list[str] = []
    n_keywords = 0
    while n_keywords < target_keywords:
        template = _pick(rng, spec["templates"])
        n_keywords += template.count("{k}")
        sentences.append(_sentence(_fill(template, rng, lang, keyword)))
        if long and rng.random() < 0.35:
            sentences.append(_sentence(_fill(_pick(rng, spec["fillers"]), rng, lang)))
    if not long and rng.random() < 0.3:
        sentences.append(_sentence(_fill(_pick(rng, spec["fillers"]), rng, lang)))
    text = " ".join(sentences)
    while _words(text) < (40 if long else 6):
        text += " " + _sentence(_fill(_pick(rng, spec["fillers"]), rng, lang))
    return text


# --- sentence similarity ---------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _synonym_lexicon(domain: str, lang: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """SIMILARITY_LEXICON[domain][lang] with each "a|b" entry split into its synonyms."""
    return {slot: tuple(tuple(entry.split("|")) for entry in entries)
            for slot, entries in SIMILARITY_LEXICON[domain][lang].items()}


@functools.lru_cache(maxsize=None)
def _similarity_groups(lang: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """SIMILARITY_TEMPLATES[lang] as (slots of the group, its paraphrase templates) pairs."""
    return tuple((tuple(_parse(group[0])[1::2]), group) for group in SIMILARITY_TEMPLATES[lang])


def _similarity_row(rng: random.Random, lang: str, domain: str) -> dict:
    # The hot loop of the module: rng.random is bound locally and indexes are drawn inline.
    rand = rng.random
    lexicon = _synonym_lexicon(domain, lang)
    groups = _similarity_groups(lang)
    n_clauses = _randint(rng, 4, 8) if rand() < LONG_FRACTION else 1
    # Probability that B keeps each meaning unit of A: uniform, with extra mass at both ends so
    # unrelated (0) and equivalent (5) pairs are common, as in STS-B.
    r = rand()
    keep = 0.0 if r < 0.08 else 1.0 if r < 0.16 else rand()

    a_clauses, b_clauses = [], []
    kept = total = 0.0
    for _ in range(n_clauses):
        slots, templates = groups[int(rand() * len(groups))]
        fill_a, fill_b = {}, {}
        for slot in slots:
            entries = lexicon[slot]
            i = int(rand() * len(entries))
            synonyms = entries[i]
            fill_a[slot] = synonyms[int(rand() * len(synonyms))]
            weight = SLOT_WEIGHTS[slot]
            total += weight
            if rand() < keep:
                kept += weight
                # maybe a synonym: same meaning, less word overlap
                fill_b[slot] = synonyms[int(rand() * len(synonyms))]
            else:  # another unit of the same slot: different meaning
                j = int(rand() * (len(entries) - 1))
                other = entries[j + (j >= i)]
                fill_b[slot] = other[int(rand() * len(other))]
        # B may use another word order of the same group (same slots).
        a_clauses.append(_sentence(templates[int(rand() * len(templates))].format_map(fill_a)))
        b_clauses.append(_sentence(templates[int(rand() * len(templates))].format_map(fill_b)))

    score = 5.0 * kept / total + rng.gauss(0.0, SCORE_NOISE)
    score = min(5.0, max(0.0, round(score * 5) / 5))
    return {"text": " ".join(a_clauses), "text_pair": " ".join(b_clauses), "label": score}
