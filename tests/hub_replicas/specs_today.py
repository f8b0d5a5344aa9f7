"""Replica specs of the hub datasets that ``conf/task/*.yaml`` use today (and their loadable stand-ins)."""

from __future__ import annotations

from .spec import FLOAT32, FLOAT64, GH, INT32, INT64, STRING, Config, Features, Replica, label

HF = "https://huggingface.co/datasets"

AMAZON_POLARITY = Replica(
    "fancyzhx/amazon_polarity",
    aliases=["amazon_polarity"],
    sources=[f"{GH}/amazon_polarity/dataset_infos.json", f"{GH}/amazon_polarity/README.md",
             f"{HF}/fancyzhx/amazon_polarity/tree/main (Convert dataset to Parquet #3: folder amazon_polarity/, script deleted)"],
    configs=[Config(
        "amazon_polarity",
        Features({"label": label("negative", "positive"), "title": STRING, "content": STRING}),
        {"train": 3_600_000, "test": 400_000},
        {"train": [
            {"label": 1, "title": "Works as promised", "content": "Charges my phone overnight and the cable still looks new after months of daily use."},
            {"label": 0, "title": "Broke in a week", "content": "The hinge snapped after six days. Customer service never answered my emails."},
            {"label": 0, "title": "Not as pictured", "content": "The colour is much darker than in the photos and the fabric feels cheap."},
            {"label": 1, "title": "Great CD", "content": "I have listened to this album for years and it still lifts my mood every time."},
        ], "test": [
            {"label": 1, "title": "Solid little kettle", "content": "Boils quickly, switches off reliably and is easy to clean."},
            {"label": 0, "title": "Waste of money", "content": "Stopped working after the second use; the replacement had the same fault."},
            {"label": 1, "title": "Kids love it", "content": "Sturdy puzzle with bright pieces; my daughter asks for it every evening."},
        ]},
    )],
)

IMDB = Replica(
    "stanfordnlp/imdb",
    aliases=["imdb"],
    sources=[f"{GH}/imdb/dataset_infos.json", f"{GH}/imdb/imdb.py",
             f"{HF}/stanfordnlp/imdb/viewer/plain_text/train (subset plain_text; splits train 25k, test 25k, unsupervised 50k)",
             f"{HF}/stanfordnlp/imdb/tree/main/plain_text (Convert dataset to Parquet #5: {{train,test,unsupervised}}-00000-of-00001.parquet)"],
    notes=["label names are neg/pos (not negative/positive)",
           "the unsupervised split (50k rows) has label -1 for every row: a spec must not read it as labelled data"],
    configs=[Config(
        "plain_text",
        Features({"text": STRING, "label": label("neg", "pos")}),
        {"train": 25_000, "test": 25_000, "unsupervised": 50_000},
        {"train": [
            {"text": "I rented this on a whim and was hooked from the first scene. The lead gives a quiet, brilliant performance.", "label": 1},
            {"text": "Two hours I will never get back. The plot holes are big enough to drive a truck through.", "label": 0},
            {"text": "A charming little film with a warm script; the ending made my whole family smile.", "label": 1},
            {"text": "Wooden acting, a muddled story and a soundtrack that never stops. Avoid.", "label": 0},
        ], "test": [
            {"text": "The director clearly loves these characters, and by the end so did I.", "label": 1},
            {"text": "It starts promisingly but collapses into a string of clichés in the last act.", "label": 0},
            {"text": "Badly edited and far too long; even the usually reliable cast looks bored.", "label": 0},
        ], "unsupervised": [
            {"text": "Saw this at a festival years ago and I still think about the final shot.", "label": -1},
            {"text": "My brother insisted we watch it twice. I am not sure why.", "label": -1},
            {"text": "The sequel has a different cast but keeps the same slow pace.", "label": -1},
        ]},
    )],
)

AMAZON_REVIEWS_MULTI = Replica(
    "mteb/amazon_reviews_multi",
    script="amazon_reviews_multi.py",
    sources=[f"{HF}/mteb/amazon_reviews_multi/tree/main (main holds amazon_reviews_multi.py + <lang>/{{train,validation,test}}.jsonl, README 47 bytes)",
             "datasets 5.2 load.py: a hub repo holding <name>.py raises RuntimeError('Dataset scripts are no longer supported, but found <name>.py')"],
    other_configs=["de", "en", "es", "fr", "ja", "zh"],
    unverified=["config names and columns the script defines (not read); the jsonl columns were not read either"],
    notes=["cannot load with datasets >= 4 (no parquet on main); use mteb/AmazonReviewsClassification (same reviews, parquet)"],
    configs=[],
)

AMAZON_REVIEWS_CLASSIFICATION = Replica(
    "mteb/AmazonReviewsClassification",
    sources=[f"{HF}/mteb/AmazonReviewsClassification/blob/main/README.md (dataset_info: configs de, en, es, ...; text string, label int64; train 200000, validation 5000, test 5000)"],
    other_configs=["es", "fr", "ja", "zh"],
    unverified=["label values are 0..4 (stars - 1): the card declares int64 only",
                "data_files layout on the hub (replica uses <config>/<split>-*.parquet)"],
    notes=["label is a plain int64, not a ClassLabel: a spec needs labels + label_map keyed by the integers"],
    configs=[
        Config("de", Features({"text": STRING, "label": INT64}), {"train": 200_000, "validation": 5_000, "test": 5_000}, {
            "train": [{"text": "Funktioniert einwandfrei\n\nDer Akku hält locker zwei Tage, Lieferung war schnell.", "label": 4},
                      {"text": "Leider defekt\n\nNach einer Woche ging das Display nicht mehr an.", "label": 0},
                      {"text": "Geht so\n\nFür den Preis in Ordnung, aber die Verarbeitung ist mittelmäßig.", "label": 2}],
            "validation": [{"text": "Sehr zufrieden\n\nPasst perfekt und sieht hochwertig aus.", "label": 4},
                           {"text": "Nicht empfehlenswert\n\nRiecht stark nach Plastik und ist zu klein.", "label": 1},
                           {"text": "Ganz gut\n\nMacht, was es soll, die Anleitung ist aber unverständlich.", "label": 3}],
            "test": [{"text": "Top Qualität\n\nIch würde es jederzeit wieder kaufen.", "label": 4},
                     {"text": "Enttäuschend\n\nDie Farbe weicht stark vom Foto ab.", "label": 1},
                     {"text": "Kaputt angekommen\n\nDie Verpackung war beschädigt, das Glas gesprungen.", "label": 0}]}),
        Config("en", Features({"text": STRING, "label": INT64}), {"train": 200_000, "validation": 5_000, "test": 5_000}, {
            "train": [{"text": "Love it\n\nFits my desk perfectly and was easy to assemble.", "label": 4},
                      {"text": "Stopped working\n\nThe charger died after ten days.", "label": 0},
                      {"text": "Okay for the price\n\nDoes the job but feels flimsy.", "label": 2}],
            "validation": [{"text": "Great gift\n\nMy dad uses it every morning.", "label": 4},
                           {"text": "Too small\n\nRuns at least one size small.", "label": 1},
                           {"text": "Pretty good\n\nWorks well, the lid is a bit loose.", "label": 3}],
            "test": [{"text": "Excellent\n\nBetter than the name brand.", "label": 4},
                     {"text": "Disappointed\n\nArrived scratched and the return was a hassle.", "label": 1},
                     {"text": "Broken\n\nNever turned on.", "label": 0}]}),
    ],
)

AG_NEWS = Replica(
    "fancyzhx/ag_news",
    aliases=["ag_news"],
    sources=[f"{GH}/ag_news/dataset_infos.json", f"{GH}/ag_news/README.md"],
    unverified=["hub main holds parquet (data/{train,test}-*) - seen only on a copy of the conversion, not on fancyzhx/ag_news itself"],
    configs=[Config(
        "default",
        Features({"text": STRING, "label": label("World", "Sports", "Business", "Sci/Tech")}),
        {"train": 120_000, "test": 7_600},
        {"train": [
            {"text": "Rebels agree to talks after week of clashes (Reuters) Reuters - Rebel leaders said on Monday they would join peace talks.", "label": 0},
            {"text": "Late goal lifts United over rivals (AP) AP - A header in stoppage time gave United a 2-1 win on Saturday.", "label": 1},
            {"text": "Oil prices slip as stocks build (Reuters) Reuters - Crude futures fell for a third day on rising inventories.", "label": 2},
            {"text": "New chip promises longer laptop battery life (AP) AP - The processor uses half the power of its predecessor.", "label": 3},
        ], "test": [
            {"text": "Ministers meet to discuss border dispute (AFP) AFP - Foreign ministers met in Geneva on Tuesday.", "label": 0},
            {"text": "Champion advances in straight sets (AP) AP - The defending champion needed just 90 minutes.", "label": 1},
            {"text": "Space probe sends first images from comet (Reuters) Reuters - Scientists cheered the sharp photographs.", "label": 3},
        ]},
    )],
)

YAHOO_TOPICS = ["Society & Culture", "Science & Mathematics", "Health", "Education & Reference", "Computers & Internet",
                "Sports", "Business & Finance", "Entertainment & Music", "Family & Relationships", "Politics & Government"]
YAHOO = Replica(
    "community-datasets/yahoo_answers_topics",
    aliases=["yahoo_answers_topics"],
    sources=[f"{GH}/yahoo_answers_topics/dataset_infos.json",
             f"{HF}/community-datasets/yahoo_answers_topics/tree/main (Convert dataset to Parquet #4: folder yahoo_answers_topics/)"],
    notes=["the label column is `topic`, not `label`"],
    configs=[Config(
        "yahoo_answers_topics",
        Features({"id": INT32, "topic": label(*YAHOO_TOPICS), "question_title": STRING, "question_content": STRING, "best_answer": STRING}),
        {"train": 1_400_000, "test": 60_000},
        {"train": [
            {"id": 0, "topic": 2, "question_title": "how long does a cold usually last?", "question_content": "", "best_answer": "About a week; rest and fluids help."},
            {"id": 1, "topic": 4, "question_title": "why is my laptop fan always loud?", "question_content": "it is only two years old", "best_answer": "Clean the vents, dust builds up inside."},
            {"id": 2, "topic": 5, "question_title": "who won the world cup in 2002?", "question_content": "", "best_answer": "Brazil beat Germany 2-0 in the final."},
            {"id": 3, "topic": 8, "question_title": "how do i tell my parents i failed a class?", "question_content": "they will be so mad", "best_answer": "Be honest early and bring a plan to fix it."},
        ], "test": [
            {"id": 0, "topic": 1, "question_title": "what is the speed of light?", "question_content": "", "best_answer": "About 300,000 km per second in vacuum."},
            {"id": 1, "topic": 6, "question_title": "is it better to rent or buy?", "question_content": "in a big city", "best_answer": "Depends how long you will stay."},
            {"id": 2, "topic": 7, "question_title": "best guitar for a beginner?", "question_content": "", "best_answer": "A cheap acoustic with low action."},
        ]},
    )],
)

MASAKHANEWS_LABELS = ("business", "entertainment", "health", "politics", "religion", "sports", "technology")
_masakha = Features({"label": label(*MASAKHANEWS_LABELS), "headline": STRING, "text": STRING, "headline_text": STRING, "url": STRING})


def _news(label_id: int, headline: str, text: str, url: str) -> dict:
    return {"label": label_id, "headline": headline, "text": text, "headline_text": f"{headline} {text}", "url": url}


MASAKHANEWS = Replica(
    "masakhane/masakhanews",
    script="masakhanews.py",
    sources=[f"{HF}/masakhane/masakhanews/tree/main (main: .gitattributes, README.md, masakhanews.py only)",
             f"{HF}/masakhane/masakhanews/tree/faa5fd72c662a3578f9cf1d60e55fc5ffabbd67a/lug (refs/convert/parquet: <lang>/masakhanews-<split>.parquet)",
             "label names: third-party code using MasakhaNEWS (business, entertainment, health, politics, religion, sports, technology)",
             "https://github.com/masakhane-io/masakhane-news/tree/main/data (fra/labels.txt: business, health, politics, sports, "
             "technology; fra/dev.tsv 50/50/50/50/11 and fra/test.tsv 100/100/100/100/22 of them; eng/labels.txt: no religion)"],
    other_configs=["amh", "hau", "ibo", "lin", "lug", "orm", "pcm", "run", "sna", "som", "swa", "tir", "xho", "yor"],
    unverified=["columns headline_text and url, and split sizes (from the MasakhaNEWS paper, from memory: eng 3309/472/948, fra 1476/211/422)"],
    notes=["cannot load from main with datasets >= 4 (only a loading script); the rows below are the script's schema",
           "every language has the 7-name ClassLabel, and uses some of them: fra 5 (no entertainment, no religion), eng 6 "
           "(no religion); the rows below use only their language's",
           "the parquet export (revision refs/convert/parquet) has no dataset card (the parquet-converter deletes README.md "
           "there), so datasets sees one config, default: fra is read as data_dir='fra'; by config name it is "
           "\"BuilderConfig 'fra' not found\""],
    configs=[
        Config("fra", _masakha, {"train": 1476, "validation": 211, "test": 422}, {
            "train": [_news(5, "Le Sénégal se qualifie pour la finale", "Les Lions ont battu le Maroc 2-1 à Abidjan.", "https://example.org/fra/1"),
                      _news(3, "Le Parlement adopte la réforme électorale", "Le texte a été voté par 98 députés.", "https://example.org/fra/2"),
                      _news(2, "Campagne de vaccination contre la rougeole", "Plus d'un million d'enfants sont concernés.", "https://example.org/fra/3")],
            "validation": [_news(0, "Hausse du prix du cacao", "Les producteurs ivoiriens saluent la nouvelle.", "https://example.org/fra/4"),
                           _news(6, "Une start-up lance une application de paiement", "Le service fonctionne sans connexion internet.", "https://example.org/fra/5"),
                           _news(2, "Un nouvel hôpital ouvre ses portes à Bamako", "L'établissement compte deux cents lits.", "https://example.org/fra/6")],
            "test": [_news(0, "La Bourse régionale termine en hausse", "Les valeurs bancaires mènent la progression.", "https://example.org/fra/7"),
                     _news(5, "Le club local remporte le championnat", "Une victoire historique pour la ville.", "https://example.org/fra/8"),
                     _news(3, "Le président nomme un nouveau gouvernement", "Le Premier ministre reste en poste.", "https://example.org/fra/9")]}),
        Config("eng", _masakha, {"train": 3309, "validation": 472, "test": 948}, {
            "train": [_news(5, "Eagles beat Ghana in friendly", "A late penalty sealed the win in Lagos.", "https://example.org/eng/1"),
                      _news(0, "Central bank holds interest rate", "Inflation eased for a second month.", "https://example.org/eng/2"),
                      _news(2, "Malaria cases fall in northern region", "Health workers credit bed-net campaigns.", "https://example.org/eng/3")],
            "validation": [_news(3, "Opposition names running mate", "The ticket was unveiled at a rally in Kano.", "https://example.org/eng/4"),
                           _news(6, "Telecom firm expands 4G coverage", "Rural towns will be connected by June.", "https://example.org/eng/5"),
                           _news(1, "Afrobeats star announces world tour", "Tickets sold out within hours.", "https://example.org/eng/6")],
            "test": [_news(3, "Governor calls for calm", "The appeal came after weekend protests.", "https://example.org/eng/7"),
                     _news(0, "Fuel prices rise again", "Transport fares are expected to follow.", "https://example.org/eng/8"),
                     _news(5, "Marathon record broken in Nairobi", "The winner finished in two hours four minutes.", "https://example.org/eng/9")]}),
    ],
)

_sts = Features({"sentence1": STRING, "sentence2": STRING, "similarity_score": FLOAT32})
STSB_MULTI_MT = Replica(
    "PhilipMay/stsb_multi_mt",
    aliases=["stsb_multi_mt"],
    sources=[f"{GH}/stsb_multi_mt/dataset_infos.json",
             f"{HF}/PhilipMay/stsb_multi_mt/commit/e1b7f8617fa83b90b4e7530dac02f1583cc61415 (Convert dataset to Parquet: <lang>/{{train,dev,test}}-00000-of-00001.parquet)"],
    other_configs=["es", "fr", "it", "nl", "pl", "pt", "ru", "zh"],
    notes=["the validation split is named `dev`", "similarity_score is float32 in [0, 5]"],
    configs=[
        Config("en", _sts, {"train": 5749, "test": 1379, "dev": 1500}, {
            "train": [{"sentence1": "A man is playing a large flute.", "sentence2": "A man is playing a flute.", "similarity_score": 3.8},
                      {"sentence1": "A woman is slicing an onion.", "sentence2": "A woman is cutting an onion.", "similarity_score": 5.0},
                      {"sentence1": "A dog runs through the snow.", "sentence2": "A race car drives through mud.", "similarity_score": 0.2}],
            "test": [{"sentence1": "Two boys are playing video games.", "sentence2": "Two boys on a couch play a game.", "similarity_score": 4.0},
                     {"sentence1": "The woman is playing the violin.", "sentence2": "The lady enjoys listening to the guitar.", "similarity_score": 1.0},
                     {"sentence1": "Stocks fell sharply on Monday.", "sentence2": "Markets dropped at the start of the week.", "similarity_score": 3.4}],
            "dev": [{"sentence1": "A bird is bathing in the sink.", "sentence2": "A bird is washing itself in the basin.", "similarity_score": 4.8},
                    {"sentence1": "A cat sits on a mat.", "sentence2": "A man rides a horse.", "similarity_score": 0.0},
                    {"sentence1": "They flew out of the nest in groups.", "sentence2": "They flew into the nest together.", "similarity_score": 2.0}]}),
        Config("de", _sts, {"train": 5749, "test": 1379, "dev": 1500}, {
            "train": [{"sentence1": "Ein Mann spielt eine große Flöte.", "sentence2": "Ein Mann spielt Flöte.", "similarity_score": 3.8},
                      {"sentence1": "Eine Frau schneidet eine Zwiebel.", "sentence2": "Eine Frau zerkleinert eine Zwiebel.", "similarity_score": 5.0},
                      {"sentence1": "Ein Hund rennt durch den Schnee.", "sentence2": "Ein Rennwagen fährt durch den Schlamm.", "similarity_score": 0.2}],
            "test": [{"sentence1": "Zwei Jungen spielen Videospiele.", "sentence2": "Zwei Jungen auf einem Sofa spielen ein Spiel.", "similarity_score": 4.0},
                     {"sentence1": "Die Frau spielt Geige.", "sentence2": "Die junge Dame hört gern Gitarre.", "similarity_score": 1.0},
                     {"sentence1": "Die Aktien fielen am Montag stark.", "sentence2": "Die Märkte gaben zum Wochenbeginn nach.", "similarity_score": 3.4}],
            "dev": [{"sentence1": "Ein Vogel badet im Waschbecken.", "sentence2": "Ein Vogel wäscht sich im Becken.", "similarity_score": 4.8},
                    {"sentence1": "Eine Katze sitzt auf einer Matte.", "sentence2": "Ein Mann reitet ein Pferd.", "similarity_score": 0.0},
                    {"sentence1": "Sie flogen in Gruppen aus dem Nest.", "sentence2": "Sie flogen gemeinsam ins Nest.", "similarity_score": 2.0}]}),
    ],
)

BIOSSES = Replica(
    "mteb/biosses-sts",
    sources=[f"{HF}/mteb/biosses-sts/tree/main (main: README.md with `language: en` only, test.jsonl.gz; so config default, split test)"],
    unverified=["columns: sentence1, sentence2, score as named by conf/task/sentence_similarity.yaml; other jsonl columns, if any, not read",
                "score dtype float64 (what the json builder infers for JSON numbers)", "split size 100 (BIOSSES paper)"],
    notes=["only a test split: a target needs paper splits carved from it"],
    configs=[Config(
        "default",
        Features({"sentence1": STRING, "sentence2": STRING, "score": FLOAT64}),
        {"test": 100},
        {"test": [
            {"sentence1": "Mutations in the BRAF gene drive many melanomas.", "sentence2": "Most melanomas carry activating BRAF mutations.", "score": 3.6},
            {"sentence1": "The protein localises to the mitochondrial membrane.", "sentence2": "Kinase inhibitors reduced tumour growth in mice.", "score": 0.2},
            {"sentence1": "Knockdown of the gene reduced cell migration.", "sentence2": "Silencing this gene impaired the migration of cells.", "score": 4.0},
            {"sentence1": "Expression levels were measured by qPCR.", "sentence2": "The cohort included 120 patients.", "score": 0.0},
        ]},
    )],
)

REPLICAS = [AMAZON_POLARITY, IMDB, AMAZON_REVIEWS_MULTI, AMAZON_REVIEWS_CLASSIFICATION, AG_NEWS, YAHOO, MASAKHANEWS,
            STSB_MULTI_MT, BIOSSES]
