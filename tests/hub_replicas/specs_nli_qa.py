"""Replica specs of the sentence-pair and extractive-QA hub datasets of the cross-lingual work."""

from __future__ import annotations

from .spec import (GH, INT32, STRING, Config, Features, Replica, Translation, TranslationVariableLanguages,
                   answers_feature, label, qa)

HF = "https://huggingface.co/datasets"
NLI_LABELS = ("entailment", "neutral", "contradiction")
XNLI_LANGS = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]

# One premise, then its entailed / neutral / contradicted hypotheses, in every XNLI language.
XNLI_BANK = {
    "ar": ("القطة نائمة.", "حيوان يستريح.", "القطة جائعة.", "القطة تركض."),
    "bg": ("Котката спи.", "Животно почива.", "Котката е гладна.", "Котката тича."),
    "de": ("Die Katze schläft.", "Ein Tier ruht sich aus.", "Die Katze hat Hunger.", "Die Katze rennt."),
    "el": ("Η γάτα κοιμάται.", "Ένα ζώο ξεκουράζεται.", "Η γάτα πεινάει.", "Η γάτα τρέχει."),
    "en": ("The cat is sleeping.", "An animal is resting.", "The cat is hungry.", "The cat is running."),
    "es": ("El gato está durmiendo.", "Un animal está descansando.", "El gato tiene hambre.", "El gato está corriendo."),
    "fr": ("Le chat dort.", "Un animal se repose.", "Le chat a faim.", "Le chat court."),
    "hi": ("बिल्ली सो रही है।", "एक जानवर आराम कर रहा है।", "बिल्ली भूखी है।", "बिल्ली दौड़ रही है।"),
    "ru": ("Кошка спит.", "Животное отдыхает.", "Кошка голодна.", "Кошка бежит."),
    "sw": ("Paka amelala.", "Mnyama anapumzika.", "Paka ana njaa.", "Paka anakimbia."),
    "th": ("แมวกำลังนอนหลับ", "สัตว์ตัวหนึ่งกำลังพักผ่อน", "แมวหิว", "แมวกำลังวิ่ง"),
    "tr": ("Kedi uyuyor.", "Bir hayvan dinleniyor.", "Kedi aç.", "Kedi koşuyor."),
    "ur": ("بلی سو رہی ہے۔", "ایک جانور آرام کر رہا ہے۔", "بلی بھوکی ہے۔", "بلی دوڑ رہی ہے۔"),
    "vi": ("Con mèo đang ngủ.", "Một con vật đang nghỉ ngơi.", "Con mèo đói.", "Con mèo đang chạy."),
    "zh": ("猫在睡觉。", "一只动物在休息。", "猫饿了。", "猫在跑。"),
}
XNLI_SIZES = {"train": 392_702, "test": 5_010, "validation": 2_490}


def _xnli_rows(lang: str) -> list[dict]:
    premise, *hypotheses = XNLI_BANK[lang]
    return [{"premise": premise, "hypothesis": h, "label": i} for i, h in enumerate(hypotheses)]


def _xnli_all_rows() -> list[dict]:
    return [{"premise": {lang: XNLI_BANK[lang][0] for lang in XNLI_LANGS},
             "hypothesis": {lang: XNLI_BANK[lang][1 + i] for lang in XNLI_LANGS}, "label": i} for i in range(3)]


_xnli = Features({"premise": STRING, "hypothesis": STRING, "label": label(*NLI_LABELS)})
XNLI = Replica(
    "facebook/xnli",
    aliases=["xnli"],
    sources=[f"{GH}/xnli/dataset_infos.json",
             f"{HF}/facebook/xnli/tree/b8dd5d7af51114dbda02c0e3f6133f332186418e (Convert dataset to Parquet #10: one folder per config, all_languages included)"],
    other_configs=[],
    notes=["every language config has the same sizes: train 392702 (machine-translated MultiNLI), validation 2490, test 5010",
           "all_languages: premise is Translation (dict lang->text), hypothesis is TranslationVariableLanguages ({language: [...], translation: [...]})"],
    configs=[*(Config(lang, _xnli, dict(XNLI_SIZES), {s: _xnli_rows(lang) for s in XNLI_SIZES}) for lang in XNLI_LANGS),
             Config("all_languages",
                    Features({"premise": Translation(languages=XNLI_LANGS),
                              "hypothesis": TranslationVariableLanguages(languages=XNLI_LANGS),
                              "label": label(*NLI_LABELS)}),
                    dict(XNLI_SIZES), {s: _xnli_all_rows() for s in XNLI_SIZES})],
)

PAWSX_BANK = {
    "en": [("The film was released in Paris in 1998.", "In 1998 the film was released in Paris.", 1),
           ("Anna moved from Berlin to Munich in 2005.", "Anna moved from Munich to Berlin in 2005.", 0),
           ("The river flows north into the lake.", "The river flows into the lake to the north.", -1)],
    "de": [("Der Film wurde 1998 in Paris veröffentlicht.", "1998 wurde der Film in Paris veröffentlicht.", 1),
           ("Anna zog 2005 von Berlin nach München.", "Anna zog 2005 von München nach Berlin.", 0),
           ("Der Fluss fließt nach Norden in den See.", "Der Fluss mündet im Norden in den See.", 1)],
    "zh": [("这部电影于1998年在巴黎上映。", "1998年，这部电影在巴黎上映。", 1),
           ("安娜于2005年从柏林搬到慕尼黑。", "安娜于2005年从慕尼黑搬到柏林。", 0),
           ("这条河向北流入湖中。", "这条河在北边流入湖中。", 1)],
    "es": [("La película se estrenó en París en 1998.", "En 1998 la película se estrenó en París.", 1),
           ("Anna se mudó de Berlín a Múnich en 2005.", "Anna se mudó de Múnich a Berlín en 2005.", 0),
           ("El río fluye hacia el norte hasta el lago.", "El río desemboca en el lago por el norte.", 1)],
    "fr": [("Le film est sorti à Paris en 1998.", "En 1998, le film est sorti à Paris.", 1),
           ("Anna a déménagé de Berlin à Munich en 2005.", "Anna a déménagé de Munich à Berlin en 2005.", 0),
           ("La rivière coule vers le nord jusqu'au lac.", "La rivière se jette dans le lac au nord.", 1)],
    "ja": [("その映画は1998年にパリで公開された。", "1998年、その映画はパリで公開された。", 1),
           ("アンナは2005年にベルリンからミュンヘンへ引っ越した。", "アンナは2005年にミュンヘンからベルリンへ引っ越した。", 0),
           ("その川は北へ流れて湖に注ぐ。", "その川は北で湖に注ぐ。", 1)],
    "ko": [("그 영화는 1998년 파리에서 개봉되었다.", "1998년에 그 영화는 파리에서 개봉되었다.", 1),
           ("안나는 2005년에 베를린에서 뮌헨으로 이사했다.", "안나는 2005년에 뮌헨에서 베를린으로 이사했다.", 0),
           ("그 강은 북쪽으로 흘러 호수로 들어간다.", "그 강은 북쪽에서 호수로 흘러든다.", 1)],
}
PAWSX_LANGS = ["de", "en", "es", "fr", "ja", "ko", "zh"]
PAWSX_SIZES = {"train": 49_401, "test": 2_000, "validation": 2_000}


def _pawsx_rows(lang: str, split: str) -> list[dict]:
    rows = [{"id": i + 1, "sentence1": a, "sentence2": b, "label": y} for i, (a, b, y) in enumerate(PAWSX_BANK[lang])]
    return rows if split == "train" else [{**r, "label": max(r["label"], 0)} for r in rows]


PAWS_X = Replica(
    "google-research-datasets/paws-x",
    aliases=["paws-x"],
    sources=[f"{GH}/paws-x/dataset_infos.json", f"{GH}/paws-x/README.md (missing or wrong labels replaced by -1)",
             "https://github.com/tensorflow/datasets/blob/54760dbad215fd199df241f10c08fd4f7424a2ac/docs/community_catalog/huggingface/paws-x.md "
             "(every config: train 49401, validation 2000, test 2000; same features)"],
    other_configs=[],
    unverified=["hub main holds parquet (per-config folders) - not seen here"],
    notes=["label is ClassLabel(names=['0', '1']): the names are the strings '0'/'1', not paraphrase/not",
           "some train labels are -1 (the card: missing or wrong labels replaced by -1)"],
    configs=[Config(lang, Features({"id": INT32, "sentence1": STRING, "sentence2": STRING, "label": label("0", "1")}),
                    dict(PAWSX_SIZES), {s: _pawsx_rows(lang, s) for s in PAWSX_SIZES}) for lang in PAWSX_LANGS],
)

PAWS = Replica(
    "google-research-datasets/paws",
    aliases=["paws"],
    sources=[f"{GH}/paws/dataset_infos.json",
             "https://github.com/tensorflow/datasets/blob/31f1255e57e519a6c004f0b097a2f5cfcf0dde7d/docs/community_catalog/huggingface/paws.md "
             "(labeled_final: train 49401, validation 8000, test 8000; labeled_swap: train 30397; unlabeled_final: train 645652, validation 10000)"],
    other_configs=["labeled_swap", "unlabeled_final"],
    unverified=["hub main holds parquet under labeled_final/ - not seen here"],
    notes=["PAWS-Wiki; label is ClassLabel(names=['0', '1']) like paws-x; labeled_final train is the English training set of paws-x",
           "the paws-x dev/test sets are translations of pairs drawn from labeled_final's dev/test: never pool those into training "
           "data a paws-x language is evaluated on"],
    configs=[Config("labeled_final", Features({"id": INT32, "sentence1": STRING, "sentence2": STRING, "label": label("0", "1")}),
                    {"train": 49_401, "test": 8_000, "validation": 8_000},
                    {s: _pawsx_rows("en", s) for s in ("train", "test", "validation")})],
)


def _mnli(pid: int, pair: str, premise: str, hypothesis: str, genre: str, y: int) -> dict:
    def parses(sentence: str) -> tuple[str, str]:
        words = sentence.rstrip(".").split()
        binary = "( " + " ".join(words) + " . )"
        full = "(ROOT (S " + " ".join(f"(X {w})" for w in words) + " (. .)))"
        return binary, full
    pb, pp = parses(premise)
    hb, hp = parses(hypothesis)
    return {"promptID": pid, "pairID": pair, "premise": premise, "premise_binary_parse": pb, "premise_parse": pp,
            "hypothesis": hypothesis, "hypothesis_binary_parse": hb, "hypothesis_parse": hp, "genre": genre, "label": y}


MULTI_NLI = Replica(
    "nyu-mll/multi_nli",
    aliases=["multi_nli"],
    sources=[f"{GH}/multi_nli/dataset_infos.json", f"{GH}/multi_nli/multi_nli.py (rows whose gold_label is '-' are skipped)"],
    unverified=["hub main holds parquet - not seen here"],
    notes=["no `validation` or `test` split: validation_matched and validation_mismatched (test labels are not public)"],
    configs=[Config(
        "default",
        Features({"promptID": INT32, "pairID": STRING, "premise": STRING, "premise_binary_parse": STRING,
                  "premise_parse": STRING, "hypothesis": STRING, "hypothesis_binary_parse": STRING,
                  "hypothesis_parse": STRING, "genre": STRING, "label": label(*NLI_LABELS)}),
        {"train": 392_702, "validation_matched": 9_815, "validation_mismatched": 9_832},
        {"train": [_mnli(31193, "31193n", "The museum is open every day except Monday.", "The museum is closed on Mondays.", "travel", 0),
                   _mnli(101457, "101457e", "He said the report would be ready by Friday.", "The report was finished early.", "government", 1),
                   _mnli(134793, "134793c", "We talked on the phone for an hour.", "We never spoke.", "telephone", 2)],
         "validation_matched": [_mnli(63735, "63735n", "The new rules take effect next year.", "The rules change next year.", "slate", 0),
                                _mnli(91383, "91383c", "She rarely travels abroad.", "She travels abroad every month.", "fiction", 2),
                                _mnli(755, "755e", "The committee met twice in March.", "The committee was busy in spring.", "government", 1)],
         "validation_mismatched": [_mnli(75290, "75290c", "Dear friend, thank you for your generous gift.", "The gift was not appreciated.", "letters", 2),
                                   _mnli(133794, "133794e", "The plane hit the tower at 8:46.", "A plane struck the tower.", "nineeleven", 0),
                                   _mnli(3628, "3628n", "The report covers fifty years of data.", "The report is long.", "oup", 1)]},
    )],
)

_CTX_EN = [("Normans", "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France."),
           ("Oxygen", "Oxygen is a chemical element with symbol O and atomic number 8. It was discovered by Carl Wilhelm Scheele.")]
SQUAD = Replica(
    "rajpurkar/squad",
    aliases=["squad"],
    sources=[f"{GH}/squad/dataset_infos.json"],
    unverified=["hub main holds parquet under config plain_text - not seen here"],
    notes=["SQuAD v1.1: every question has an answer; validation rows often carry several (duplicate) answers"],
    configs=[Config(
        "plain_text",
        Features({"id": STRING, "title": STRING, "context": STRING, "question": STRING, "answers": answers_feature()}),
        {"train": 87_599, "validation": 10_570},
        {"train": [qa(_CTX_EN[0][1], "In what country is Normandy located?", "France", "56ddde6b9a695914005b9628", _CTX_EN[0][0]),
                   qa(_CTX_EN[0][1], "When did the Normans give their name to Normandy?", "10th and 11th centuries", "56ddde6b9a695914005b9629", _CTX_EN[0][0]),
                   qa(_CTX_EN[1][1], "What is the atomic number of oxygen?", "8", "571c96095efbb31900334dba", _CTX_EN[1][0])],
         "validation": [{**qa(_CTX_EN[1][1], "Who discovered oxygen?", "Carl Wilhelm Scheele", "56de41504396321400ee2714", _CTX_EN[1][0]),
                         "answers": {"text": ["Carl Wilhelm Scheele", "Scheele"],
                                     "answer_start": [_CTX_EN[1][1].index("Carl"), _CTX_EN[1][1].index("Scheele")]}},
                        qa(_CTX_EN[1][1], "What is the symbol of oxygen?", "O", "56de41504396321400ee2715", _CTX_EN[1][0], nth=1),
                        qa(_CTX_EN[0][1], "Normandy is a region in which country?", "France", "56dddf4066d3e219004dad5f", _CTX_EN[0][0])]},
    )],
)

_PANTHERS = {"en": "The Panthers defense gave up just 308 points, ranking sixth in the league.",
             "de": "Die Verteidigung der Panthers ließ nur 308 Punkte zu und belegte damit Platz sechs der Liga.",
             "zh": "黑豹队的防守只丢了308分，在联盟中排名第六。"}
_TESLA = {"en": "Tesla was born in 1856 in Smiljan, in the Austrian Empire.",
          "de": "Tesla wurde 1856 in Smiljan im Kaisertum Österreich geboren.",
          "zh": "特斯拉于1856年出生在奥地利帝国的斯米连。"}
XQUAD_QA = {  # (context, question, answer, id): the same ids in every language, as in XQuAD
    "en": [(_PANTHERS["en"], "How many points did the Panthers defense give up?", "308", "56beb4343aeaaa14008c925b"),
           (_PANTHERS["en"], "Where did the Panthers defense rank in the league?", "sixth", "56beb4343aeaaa14008c925c"),
           (_TESLA["en"], "Where was Tesla born?", "Smiljan", "56dfa0d84a1a83140091ebb7")],
    "de": [(_PANTHERS["de"], "Wie viele Punkte ließ die Verteidigung der Panthers zu?", "308", "56beb4343aeaaa14008c925b"),
           (_PANTHERS["de"], "Welchen Platz belegte die Verteidigung der Panthers?", "Platz sechs", "56beb4343aeaaa14008c925c"),
           (_TESLA["de"], "Wo wurde Tesla geboren?", "Smiljan", "56dfa0d84a1a83140091ebb7")],
    "zh": [(_PANTHERS["zh"], "黑豹队的防守丢了多少分？", "308", "56beb4343aeaaa14008c925b"),
           (_PANTHERS["zh"], "黑豹队的防守在联盟中排名第几？", "第六", "56beb4343aeaaa14008c925c"),
           (_TESLA["zh"], "特斯拉出生在哪里？", "斯米连", "56dfa0d84a1a83140091ebb7")],
}


def _xquad_rows(lang: str) -> list[dict]:
    return [qa(c, q, a, i) for c, q, a, i in XQUAD_QA.get(lang, XQUAD_QA["en"])]


XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")  # dataset_infos.json: 1190 rows each


XQUAD = Replica(
    "google/xquad",
    aliases=["xquad"],
    sources=[f"{GH}/xquad/dataset_infos.json"],
    unverified=["hub main holds parquet per config - not seen here"],
    notes=["evaluation only: a single `validation` split of 1190 rows per language, no train, no test; no `title` column",
           "configs other than en, de, zh repeat the English rows (a schema replica: the text is not in their language)"],
    configs=[Config(f"xquad.{lang}", Features({"id": STRING, "context": STRING, "question": STRING, "answers": answers_feature()}),
                    {"validation": 1_190}, {"validation": _xquad_rows(lang)}) for lang in XQUAD_LANGS],
)

MLQA_CTX = {
    "en": ("The bridge was completed in 1932 and is 503 metres long.", [("When was the bridge completed?", "1932"), ("How long is the bridge?", "503 metres")]),
    "de": ("Die Brücke wurde 1932 fertiggestellt und ist 503 Meter lang.", [("Wann wurde die Brücke fertiggestellt?", "1932"), ("Wie lang ist die Brücke?", "503 Meter")]),
}


# mlqa.<lang>.<lang> split sizes (dataset_infos.json): (test, validation)
MLQA_SIZES = {"ar": (5_335, 517), "de": (4_517, 512), "en": (11_590, 1_148), "es": (5_253, 500), "hi": (4_918, 507),
              "vi": (5_495, 511), "zh": (5_137, 504)}


def _mlqa_rows(lang: str, split: str) -> list[dict]:
    context, pairs = MLQA_CTX.get(lang, MLQA_CTX["en"])
    rows = [qa(context, q, a, f"{split[:3]}{i:04d}a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8") for i, (q, a) in enumerate(pairs)]
    extra = qa("The river Thames flows through London.", "Which city does the Thames flow through?", "London", f"{split[:3]}9999")
    if lang == "de":
        extra = qa("Die Themse fließt durch London.", "Durch welche Stadt fließt die Themse?", "London", f"{split[:3]}9999")
    return [{"context": r["context"], "question": r["question"],
             "answers": {"answer_start": r["answers"]["answer_start"], "text": r["answers"]["text"]}, "id": r["id"]}
            for r in [*rows, extra]]


MLQA = Replica(
    "facebook/mlqa",
    aliases=["mlqa"],
    script="mlqa.py",
    sources=[f"{GH}/mlqa/dataset_infos.json",
             f"{HF}/facebook/mlqa/raw/51bd021f22626985e2e636965e8aea5099c5ae75/mlqa.py (main's loading script)",
             f"{HF}/facebook/mlqa/discussions/5/files (Convert dataset to Parquet, opened: mlqa.<c>.<q>/{{test,validation}}-00000-of-00001.parquet)",
             f"{HF}/mlqa/commits/refs%2Fconvert%2Fparquet/mlqa.ar.vi (the parquet export, one folder per config)"],
    other_configs=["mlqa.<context>.<question> for the 42 pairs of two different languages among ar, de, en, es, hi, vi, zh",
                   "mlqa-translate-train.<lang>", "mlqa-translate-test.<lang>"],
    unverified=["whether the parquet conversion (discussion #5) was merged into main: the replica assumes it was not (main holds "
                "mlqa.py, which datasets >= 4 refuses), so specs read the parquet export, which loads either way"],
    notes=["evaluation only: test and validation, no train; answers struct is {answer_start, text}; no title column",
           "configs other than en.en, de.de repeat the English rows (a schema replica: the text is not in their language)"],
    configs=[Config(f"mlqa.{lang}.{lang}", Features({"context": STRING, "question": STRING, "answers": answers_feature(text_first=False), "id": STRING}),
                    {"test": test, "validation": validation}, {s: _mlqa_rows(lang, s) for s in ("test", "validation")})
             for lang, (test, validation) in MLQA_SIZES.items()],
)

_TYDI = [
    ("english", "Nairobi", "Nairobi is the capital and largest city of Kenya, founded in 1899 as a railway depot.", "When was Nairobi founded?", "1899"),
    ("swahili", "Mombasa", "Mombasa ni mji wa pili kwa ukubwa nchini Kenya, ulioko pwani ya Bahari ya Hindi.", "Mombasa iko pwani ya bahari gani?", "Bahari ya Hindi"),
    ("finnish", "Helsinki", "Helsinki on Suomen pääkaupunki, ja se perustettiin vuonna 1550.", "Milloin Helsinki perustettiin?", "1550"),
    # The other GoldP languages, one row each: English text under their id prefix (a schema replica)
    *((name, "Nairobi", "Nairobi is the capital and largest city of Kenya, founded in 1899 as a railway depot.",
       "When was Nairobi founded?", "1899") for name in ("arabic", "bengali", "indonesian", "korean", "russian", "telugu")),
]
TYDIQA = Replica(
    "google-research-datasets/tydiqa",
    aliases=["tydiqa"],
    sources=[f"{GH}/tydiqa/dataset_infos.json", f"{GH}/tydiqa/tydiqa.py"],
    other_configs=["primary_task"],
    unverified=["hub main holds parquet for both configs - not seen here", "id format <language>-<number>-<index> (from memory)"],
    notes=["GoldP is config secondary_task: SQuAD format, all 9 languages mixed in one config; no test split",
           "XTREME uses the same data as google/xtreme config tydiqa"],
    configs=[Config("secondary_task", Features({"id": STRING, "title": STRING, "context": STRING, "question": STRING, "answers": answers_feature()}),
                    {"train": 49_881, "validation": 5_077},
                    {split: [qa(c, q, a, f"{lang}-{7_000_000_000_000_000_000 + i}-0", t) for i, (lang, t, c, q, a) in enumerate(_TYDI)]
                     for split in ("train", "validation")})],
)

REPLICAS = [XNLI, PAWS_X, PAWS, MULTI_NLI, SQUAD, XQUAD, MLQA, TYDIQA]
