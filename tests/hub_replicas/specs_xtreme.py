"""Replica specs of the XTREME-R style datasets: reasoning (COPA family), tagging (NER, POS), retrieval."""

from __future__ import annotations

from .spec import (BOOL, GH, INT32, STRING, Config, Features, Replica, answers_feature, iob_spans, label, qa,
                   seq, tagged)
from .specs_nli_qa import PAWSX_BANK, XNLI_BANK, _TYDI

HF = "https://huggingface.co/datasets"

XCOPA_BANK = {  # premise, choice1, choice2, question, label
    "it": [("L'uomo aprì il rubinetto.", "Il gabinetto si riempì d'acqua.", "L'acqua scorse dal beccuccio.", "effect", 1),
           ("I miei occhi diventarono rossi e gonfi.", "Stavo singhiozzando.", "Stavo ridendo.", "cause", 0),
           ("La ragazza trovò un insetto nei cereali.", "Versò il latte nella ciotola.", "Perse l'appetito.", "effect", 1)],
    "sw": [("Mwanamume alifungua bomba.", "Choo kilijaa maji.", "Maji yalitiririka kutoka kwenye bomba.", "effect", 1),
           ("Macho yangu yalikuwa mekundu na kuvimba.", "Nilikuwa nikilia.", "Nilikuwa nikicheka.", "cause", 0),
           ("Msichana alipata mdudu kwenye nafaka yake.", "Alimimina maziwa kwenye bakuli.", "Alipoteza hamu ya kula.", "effect", 1)],
    "zh": [("男人打开了水龙头。", "马桶里装满了水。", "水从龙头里流出来。", "effect", 1),
           ("我的眼睛又红又肿。", "我在哭。", "我在笑。", "cause", 0),
           ("女孩在麦片里发现了一只虫子。", "她把牛奶倒进碗里。", "她没了胃口。", "effect", 1)],
}
XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")  # dataset_infos.json: 11 languages
XCOPA = Replica(
    "cambridgeltl/xcopa",
    aliases=["xcopa"],
    sources=[f"{GH}/xcopa/dataset_infos.json", f"{GH}/xcopa/xcopa.py",
             f"{HF}/cambridgeltl/xcopa/viewer/ (label int32 0-1, idx int32, changed bool, question 'cause'/'effect')"],
    other_configs=["translation-<lang> (11 configs, English translations)"],
    unverified=["whether main still holds xcopa.py: commits 5abe7ba/fc217a3 (parquet conversion in progress) still list it; "
                "if it is there, datasets >= 4 refuses to load cambridgeltl/xcopa"],
    notes=["evaluation only: validation 100, test 500; label is a plain int32 (not a ClassLabel); question is 'cause' or 'effect'",
           "configs other than it, sw, zh repeat the Italian rows (a schema replica: the text is not in their language)"],
    configs=[Config(lang, Features({"premise": STRING, "choice1": STRING, "choice2": STRING, "question": STRING,
                                    "label": INT32, "idx": INT32, "changed": BOOL}),
                    {"validation": 100, "test": 500},
                    {s: [{"premise": p, "choice1": a, "choice2": b, "question": q, "label": y, "idx": i, "changed": False}
                         for i, (p, a, b, q, y) in enumerate(XCOPA_BANK.get(lang, XCOPA_BANK["it"]))] for s in ("validation", "test")})
             for lang in XCOPA_LANGS],
)

_COPA = [("The man turned on the faucet.", "The toilet filled with water.", "Water flowed from the spout.", "effect", 1),
         ("My body cast a shadow over the grass.", "The sun was rising.", "The grass was cut.", "cause", 0),
         ("The woman tolerated her friend's difficult behavior.", "The woman knew her friend was going through a hard time.",
          "The woman felt that her friend took advantage of her kindness.", "cause", 0)]
SUPER_GLUE = Replica(
    "aps/super_glue",
    aliases=["super_glue"],
    script="super_glue.py",
    sources=[f"{GH}/super_glue/dataset_infos.json", f"{GH}/super_glue/super_glue.py (test labels are -1)",
             f"{HF}/aps/super_glue/commit/5ac86567c6f13c971ded1667d04e2bb857e0bc6f (parquet export copa/{{train,validation,test}})"],
    other_configs=["boolq", "cb", "multirc", "record", "rte", "wic", "wsc", "wsc.fixed", "axb", "axg"],
    unverified=["that main still holds super_glue.py: only parquet-converter commits (the refs/convert/parquet export) were seen, "
                "no conversion of main; if main was converted, drop `script` and the replica loads"],
    notes=["COPA: label is ClassLabel(names=['choice1', 'choice2']); every test label is -1 (hidden)"],
    configs=[Config("copa", Features({"premise": STRING, "choice1": STRING, "choice2": STRING, "question": STRING,
                                      "idx": INT32, "label": label("choice1", "choice2")}),
                    {"train": 400, "validation": 100, "test": 500},
                    {s: [{"premise": p, "choice1": a, "choice2": b, "question": q, "idx": i, "label": -1 if s == "test" else y}
                         for i, (p, a, b, q, y) in enumerate(_COPA)] for s in ("train", "validation", "test")})],
)

SOCIAL_I_QA = Replica(
    "allenai/social_i_qa",
    aliases=["social_i_qa"],
    script="social_i_qa.py",
    sources=[f"{GH}/social_i_qa/dataset_infos.json", f"{GH}/social_i_qa/social_i_qa.py (label read from *-labels.lst as a string)",
             f"{HF}/allenai/social_i_qa/tree/6db3dcea20d5430c3dd74bf85fe9ca87268ea91b (Convert dataset to Parquet, refs/pr/3: "
             "data/ added but social_i_qa.py still in the tree)"],
    unverified=["whether refs/pr/3 was merged; either way main holds social_i_qa.py, so datasets >= 4 refuses to load it"],
    notes=["label is a STRING '1', '2' or '3' (1-based: answerA..answerC), not an int and not a ClassLabel; no test split"],
    configs=[Config("default", Features({"context": STRING, "question": STRING, "answerA": STRING, "answerB": STRING,
                                         "answerC": STRING, "label": STRING}),
                    {"train": 33_410, "validation": 1_954},
                    {"train": [{"context": "Tracy didn't go home that evening and resisted Riley's attacks.", "question": "What does Tracy need to do before this?",
                                "answerA": "make a new plan", "answerB": "Go home and see Riley", "answerC": "Find somewhere to go", "label": "3"},
                               {"context": "Sydney walked past a homeless woman asking for change but did not have any money.", "question": "How would you describe Sydney?",
                                "answerA": "sympathetic", "answerB": "like a person who was unable to help", "answerC": "incredulous", "label": "1"},
                               {"context": "Jordan wanted to tell Tracy a secret, so Jordan leaned towards Tracy.", "question": "Why did Jordan do this?",
                                "answerA": "So others could hear", "answerB": "To whisper the secret", "answerC": "To be rude", "label": "2"}],
                     "validation": [{"context": "Alex fed the stray cat every morning.", "question": "How would Alex feel afterwards?",
                                     "answerA": "kind", "answerB": "angry", "answerC": "bored", "label": "1"},
                                    {"context": "Cameron forgot Skylar's birthday.", "question": "What will Skylar want to do next?",
                                     "answerA": "throw a party for Cameron", "answerB": "thank Cameron", "answerC": "talk to Cameron about it", "label": "3"},
                                    {"context": "Riley studied all night for the exam.", "question": "Why did Riley do this?",
                                     "answerA": "to sleep in", "answerB": "to pass the exam", "answerC": "to skip class", "label": "2"}]})],
)

NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
NER_BANK = {
    "en": ["John/B-PER Smith/I-PER works/O for/O Deutsche/B-ORG Bank/I-ORG in/O London/B-LOC",
           "The/O Nile/B-LOC flows/O through/O Egypt/B-LOC",
           "He/O joined/O the/O United/B-ORG Nations/I-ORG in/O 1990/O"],
    "de": ["Angela/B-PER Merkel/I-PER besuchte/O Paris/B-LOC",
           "Der/O FC/B-ORG Bayern/I-ORG München/I-ORG gewann/O",
           "Sie/O wohnt/O in/O Hamburg/B-LOC"],
    "sw": ["Julius/B-PER Nyerere/I-PER alizaliwa/O Butiama/B-LOC",
           "Benki/B-ORG Kuu/I-ORG ya/I-ORG Tanzania/I-ORG ilitangaza/O",
           "Mto/O Nile/B-LOC ni/O mrefu/O"],
}


def _ner_rows(lang: str, with_spans: bool) -> list[dict]:
    rows = []
    for sentence in NER_BANK.get(lang, NER_BANK["en"]):
        tokens, tags = tagged(sentence)
        row = {"tokens": tokens, "ner_tags": tags, "langs": [lang] * len(tokens)}
        if with_spans:
            row["spans"] = iob_spans(tokens, tags)
        rows.append(row)
    return rows


def _sizes(validation: int, test: int, train: int) -> dict[str, int]:
    return {"validation": validation, "test": test, "train": train}


# unimelb-nlp/wikiann split sizes (dataset_infos.json) of XTREME's 40 PAN-X languages
WIKIANN_SIZES = {
    **{lang: _sizes(10_000, 10_000, 20_000) for lang in ("ar", "bg", "de", "el", "en", "es", "fa", "fi", "fr", "he", "hu", "id",
                                                           "it", "ja", "ko", "nl", "pt", "ru", "th", "tr", "vi", "zh")},
    "et": _sizes(10_000, 10_000, 15_000), "eu": _sizes(10_000, 10_000, 10_000), "ka": _sizes(10_000, 10_000, 10_000),
    "af": _sizes(1_000, 1_000, 5_000), "hi": _sizes(1_000, 1_000, 5_000), "mr": _sizes(1_000, 1_000, 5_000),
    "bn": _sizes(1_000, 1_000, 10_000), "ml": _sizes(1_000, 1_000, 10_000), "tl": _sizes(1_000, 1_000, 10_000),
    "ms": _sizes(1_000, 1_000, 20_000), "ur": _sizes(1_000, 1_000, 20_000), "ta": _sizes(1_000, 1_000, 15_000),
    "kk": _sizes(1_000, 1_000, 1_000), "sw": _sizes(1_000, 1_000, 1_000), "te": _sizes(1_000, 1_000, 1_000),
    "jv": _sizes(100, 100, 100), "my": _sizes(100, 100, 100), "yo": _sizes(100, 100, 100),
}
WIKIANN = Replica(
    "unimelb-nlp/wikiann",
    aliases=["wikiann"],
    sources=[f"{GH}/wikiann/dataset_infos.json", f"{GH}/wikiann/wikiann.py (spans = '<TYPE>: <tokens>' per entity, ['None'] if none)"],
    other_configs=["136 more language configs (ace ... zh-yue)"],
    unverified=["hub main holds parquet per config - not seen here"],
    notes=["sizes differ per language (dataset_infos.json): 20000/10000/10000 for most, 100/100/100 for jv, my, yo; "
           "langs is one code per token",
           "the 40 configs are XTREME's PAN-X languages; those other than en, de, sw repeat the English sentences "
           "(a schema replica: the text is not in their language)"],
    configs=[Config(lang, Features({"tokens": seq(STRING), "ner_tags": seq(label(*NER_TAGS)), "langs": seq(STRING), "spans": seq(STRING)}),
                    sizes, {s: _ner_rows(lang, True) for s in sizes})
             for lang, sizes in WIKIANN_SIZES.items()],
)


WNUT17_TAGS = ("O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work", "B-group", "I-group", "B-location",
               "I-location", "B-person", "I-person", "B-product", "I-product")
WNUT17_BANK = ["@jenny/O so/O excited/O for/O Taylor/B-person Swift/I-person tonight/O at/O Madison/B-location Square/I-location Garden/I-location !!/O",
               "new/O iPhone/B-product update/O broke/O my/O Spotify/B-product again/O lol/O",
               "watching/O Game/B-creative-work of/I-creative-work Thrones/I-creative-work with/O the/O Lakers/B-group fans/O from/O Google/B-corporation"]
WNUT_17 = Replica(
    "leondz/wnut_17",
    aliases=["wnut_17"],
    script="wnut_17.py",
    sources=[f"{GH}/wnut_17/dataset_infos.json (config wnut_17; id, tokens, ner_tags Sequence(ClassLabel, 13 names); "
             "train 3394, validation 1009, test 1287)", f"{GH}/wnut_17/wnut_17.py",
             f"{HF}/leondz/wnut_17 (the hub id the legacy name wnut_17 redirects to)"],
    unverified=["whether main still holds wnut_17.py or was converted to parquet; a spec reading the parquet export "
                "(revision refs/convert/parquet, its folder wnut_17 as data_dir) loads either way"],
    notes=["Twitter, Reddit, YouTube and StackExchange posts; 6 entity types, IOB2 tags in ClassLabel order O, B-corporation, "
           "I-corporation, ... (not alphabetical)"],
    configs=[Config("wnut_17", Features({"id": STRING, "tokens": seq(STRING), "ner_tags": seq(label(*WNUT17_TAGS))}),
                    {"train": 3_394, "validation": 1_009, "test": 1_287},
                    {s: [{"id": str(i), "tokens": tagged(t)[0], "ner_tags": tagged(t)[1]} for i, t in enumerate(WNUT17_BANK)]
                     for s in ("train", "validation", "test")})],
)

UD_UPOS = ("NOUN", "PUNCT", "ADP", "NUM", "SYM", "SCONJ", "ADJ", "PART", "DET", "CCONJ", "PROPN", "PRON", "X", "_", "ADV",
           "INTJ", "VERB", "AUX")
# form lemma upos xpos feats head deprel [SpaceAfter=No]; feats/misc are str(dict) as the conllu parser gives them.
UD_BANK = {
    "en_ewt": [
        ("en_ewt-1", "I love this place!", [
            ("I", "I", "PRON", "PRP", "{'Case': 'Nom', 'Number': 'Sing', 'Person': '1', 'PronType': 'Prs'}", "2", "nsubj", False),
            ("love", "love", "VERB", "VBP", "{'Mood': 'Ind', 'Tense': 'Pres', 'VerbForm': 'Fin'}", "0", "root", False),
            ("this", "this", "DET", "DT", "{'Number': 'Sing', 'PronType': 'Dem'}", "4", "det", False),
            ("place", "place", "NOUN", "NN", "{'Number': 'Sing'}", "2", "obj", True),
            ("!", "!", "PUNCT", ".", "None", "2", "punct", False)]),
        ("en_ewt-2", "Call me tomorrow.", [
            ("Call", "call", "VERB", "VB", "{'Mood': 'Imp', 'VerbForm': 'Fin'}", "0", "root", False),
            ("me", "I", "PRON", "PRP", "{'Case': 'Acc', 'Number': 'Sing', 'Person': '1', 'PronType': 'Prs'}", "1", "obj", False),
            ("tomorrow", "tomorrow", "NOUN", "NN", "{'Number': 'Sing'}", "1", "obl:tmod", True),
            (".", ".", "PUNCT", ".", "None", "1", "punct", False)]),
        ("en_ewt-3", "The cat sat on 2 mats.", [
            ("The", "the", "DET", "DT", "{'Definite': 'Def', 'PronType': 'Art'}", "2", "det", False),
            ("cat", "cat", "NOUN", "NN", "{'Number': 'Sing'}", "3", "nsubj", False),
            ("sat", "sit", "VERB", "VBD", "{'Mood': 'Ind', 'Tense': 'Past', 'VerbForm': 'Fin'}", "0", "root", False),
            ("on", "on", "ADP", "IN", "None", "6", "case", False),
            ("2", "2", "NUM", "CD", "{'NumType': 'Card'}", "6", "nummod", False),
            ("mats", "mat", "NOUN", "NNS", "{'Number': 'Plur'}", "3", "obl", True),
            (".", ".", "PUNCT", ".", "None", "3", "punct", False)])],
    "en_gum": [
        ("GUM_academic_art-1", "Aesthetic appreciation was measured.", [
            ("Aesthetic", "aesthetic", "ADJ", "JJ", "{'Degree': 'Pos'}", "2", "amod", False),
            ("appreciation", "appreciation", "NOUN", "NN", "{'Number': 'Sing'}", "4", "nsubj:pass", False),
            ("was", "be", "AUX", "VBD", "{'Mood': 'Ind', 'Number': 'Sing', 'Person': '3', 'Tense': 'Past', 'VerbForm': 'Fin'}", "4", "aux:pass", False),
            ("measured", "measure", "VERB", "VBN", "{'Tense': 'Past', 'VerbForm': 'Part', 'Voice': 'Pass'}", "0", "root", True),
            (".", ".", "PUNCT", ".", "None", "4", "punct", False)]),
        ("GUM_voyage_york-2", "Take the ferry to the island.", [
            ("Take", "take", "VERB", "VB", "{'Mood': 'Imp', 'VerbForm': 'Fin'}", "0", "root", False),
            ("the", "the", "DET", "DT", "{'Definite': 'Def', 'PronType': 'Art'}", "3", "det", False),
            ("ferry", "ferry", "NOUN", "NN", "{'Number': 'Sing'}", "1", "obj", False),
            ("to", "to", "ADP", "IN", "None", "6", "case", False),
            ("the", "the", "DET", "DT", "{'Definite': 'Def', 'PronType': 'Art'}", "6", "det", False),
            ("island", "island", "NOUN", "NN", "{'Number': 'Sing'}", "1", "obl", True),
            (".", ".", "PUNCT", ".", "None", "1", "punct", False)]),
        ("GUM_fiction_beast-3", "She smiled quietly.", [
            ("She", "she", "PRON", "PRP", "{'Case': 'Nom', 'Gender': 'Fem', 'Number': 'Sing', 'Person': '3', 'PronType': 'Prs'}", "2", "nsubj", False),
            ("smiled", "smile", "VERB", "VBD", "{'Mood': 'Ind', 'Tense': 'Past', 'VerbForm': 'Fin'}", "0", "root", False),
            ("quietly", "quietly", "ADV", "RB", "None", "2", "advmod", True),
            (".", ".", "PUNCT", ".", "None", "2", "punct", False)])],
    "de_gsd": [
        ("train-s1", "Das Hotel ist sehr schön.", [
            ("Das", "der", "DET", "ART", "{'Case': 'Nom', 'Definite': 'Def', 'Gender': 'Neut', 'Number': 'Sing', 'PronType': 'Art'}", "2", "det", False),
            ("Hotel", "Hotel", "NOUN", "NN", "{'Case': 'Nom', 'Gender': 'Neut', 'Number': 'Sing'}", "5", "nsubj", False),
            ("ist", "sein", "AUX", "VAFIN", "{'Mood': 'Ind', 'Number': 'Sing', 'Person': '3', 'Tense': 'Pres', 'VerbForm': 'Fin'}", "5", "cop", False),
            ("sehr", "sehr", "ADV", "ADV", "None", "5", "advmod", False),
            ("schön", "schön", "ADJ", "ADJD", "{'Degree': 'Pos'}", "0", "root", True),
            (".", ".", "PUNCT", "$.", "None", "5", "punct", False)]),
        ("train-s2", "Wir kommen morgen.", [
            ("Wir", "wir", "PRON", "PPER", "{'Case': 'Nom', 'Number': 'Plur', 'Person': '1', 'PronType': 'Prs'}", "2", "nsubj", False),
            ("kommen", "kommen", "VERB", "VVFIN", "{'Mood': 'Ind', 'Number': 'Plur', 'Person': '1', 'Tense': 'Pres', 'VerbForm': 'Fin'}", "0", "root", False),
            ("morgen", "morgen", "ADV", "ADV", "None", "2", "advmod", True),
            (".", ".", "PUNCT", "$.", "None", "2", "punct", False)]),
        ("train-s3", "Der Zug hatte Verspätung.", [
            ("Der", "der", "DET", "ART", "{'Case': 'Nom', 'Definite': 'Def', 'Gender': 'Masc', 'Number': 'Sing', 'PronType': 'Art'}", "2", "det", False),
            ("Zug", "Zug", "NOUN", "NN", "{'Case': 'Nom', 'Gender': 'Masc', 'Number': 'Sing'}", "3", "nsubj", False),
            ("hatte", "haben", "VERB", "VAFIN", "{'Mood': 'Ind', 'Number': 'Sing', 'Person': '3', 'Tense': 'Past', 'VerbForm': 'Fin'}", "0", "root", False),
            ("Verspätung", "Verspätung", "NOUN", "NN", "{'Case': 'Acc', 'Gender': 'Fem', 'Number': 'Sing'}", "3", "obj", True),
            (".", ".", "PUNCT", "$.", "None", "3", "punct", False)])],
}


def _ud_rows(treebank: str, split: str) -> list[dict]:
    rows = []
    for sent_id, text, toks in UD_BANK[treebank]:
        enhanced = treebank in ("en_ewt", "en_gum")  # the English treebanks ship enhanced dependencies; GSD leaves DEPS empty
        rows.append({
            "idx": f"{split}-{sent_id}", "text": text, "tokens": [t[0] for t in toks], "lemmas": [t[1] for t in toks],
            "upos": [t[2] for t in toks], "xpos": [t[3] for t in toks], "feats": [t[4] for t in toks],
            "head": [t[5] for t in toks], "deprel": [t[6] for t in toks],
            "deps": [f"[('{t[6]}', {t[5]})]" if enhanced else "None" for t in toks],
            "misc": ["{'SpaceAfter': 'No'}" if t[7] else "None" for t in toks]})
    return rows


_ud = Features({"idx": STRING, "text": STRING, "tokens": seq(STRING), "lemmas": seq(STRING), "upos": seq(label(*UD_UPOS)),
                "xpos": seq(STRING), "feats": seq(STRING), "head": seq(STRING), "deprel": seq(STRING), "deps": seq(STRING),
                "misc": seq(STRING)})
UNIVERSAL_DEPENDENCIES = Replica(
    "universal-dependencies/universal_dependencies",
    aliases=["universal_dependencies"],
    script="universal_dependencies.py",
    sources=[f"{GH}/universal_dependencies/dataset_infos.json", f"{GH}/universal_dependencies/universal_dependencies.py",
             f"{GH}/universal_dependencies/README.md (en_gum: test 890, train 4287, validation 784)",
             f"{HF}/universal-dependencies/universal_dependencies/tree/0aea309eeadf22549ceca852f17e4e5d4d2073dc/en_ewt (parquet export only)"],
    other_configs=["181 more treebanks (af_afribooms ... yo_ytb)"],
    unverified=["that main still holds universal_dependencies.py: only parquet-converter commits and no 'Formats: parquet' tag were seen",
                "en_gum: whether its DEPS column holds enhanced dependencies in UD 2.7 (the replica assumes it does, like en_ewt)",
                "exact feats/deps/misc strings (formatted as the script's str() of the conllu fields)"],
    notes=["upos is Sequence(ClassLabel) with a NON-alphabetical name order (NOUN=0, PUNCT=1, ..., '_'=13, AUX=17); "
           "google/xtreme udpos.* uses another (alphabetical, 17 names, no '_')", "head is a list of STRINGS"],
    configs=[Config("en_ewt", _ud, {"train": 12_543, "validation": 2_002, "test": 2_077},
                    {s: _ud_rows("en_ewt", s) for s in ("train", "validation", "test")}),
             Config("en_gum", _ud, {"train": 4_287, "validation": 784, "test": 890},
                    {s: _ud_rows("en_gum", s) for s in ("train", "validation", "test")}),
             Config("de_gsd", _ud, {"train": 13_814, "validation": 799, "test": 977},
                    {s: _ud_rows("de_gsd", s) for s in ("train", "validation", "test")})],
)

XTREME_UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
               "SYM", "VERB", "X")


# google/xtreme udpos.<Language> split sizes (dataset_infos.json): (validation, test, train); None = no such split
UDPOS_SIZES = {
    "Afrikaans": (194, 425, 1_315), "Arabic": (909, 1_680, 6_075), "Basque": (1_798, 1_799, 5_396),
    "Bulgarian": (1_115, 1_116, 8_907), "Dutch": (1_394, 1_471, 18_051), "English": (3_974, 5_440, 21_253),
    "Estonian": (3_125, 3_760, 25_749), "Finnish": (3_239, 4_422, 27_198), "French": (5_979, 9_465, 47_308),
    "German": (19_233, 22_458, 166_849), "Greek": (2_559, 2_809, 28_152), "Hebrew": (484, 491, 5_241),
    "Hindi": (1_659, 2_684, 13_304), "Hungarian": (441, 449, 910), "Indonesian": (559, 1_557, 4_477),
    "Italian": (2_278, 3_518, 29_685), "Japanese": (511, 2_372, 7_125), "Kazakh": (None, 1_047, 31),
    "Korean": (3_016, 4_276, 27_410), "Chinese": (3_038, 5_528, 18_998), "Marathi": (46, 47, 373),
    "Persian": (599, 600, 4_798), "Portuguese": (1_770, 2_681, 17_992), "Russian": (9_960, 11_336, 67_435),
    "Spanish": (3_054, 3_147, 28_492), "Tagalog": (None, 55, None), "Tamil": (80, 120, 400), "Telugu": (131, 146, 1_051),
    "Thai": (None, 1_000, None), "Turkish": (988, 4_785, 3_664), "Urdu": (552, 535, 4_043), "Vietnamese": (800, 800, 1_400),
    "Yoruba": (None, 100, None),
}


def _udpos_config(language: str) -> Config:
    sizes = {split: n for split, n in zip(("validation", "test", "train"), UDPOS_SIZES[language]) if n is not None}
    rows = _udpos_rows("de_gsd" if language == "German" else "en_ewt")
    return Config(f"udpos.{language}", _udpos, sizes, {split: rows for split in sizes})


def _udpos_rows(treebank: str) -> list[dict]:
    return [{"tokens": [t[0] for t in toks], "pos_tags": [t[2] for t in toks]} for _, _, toks in UD_BANK[treebank]]


# google/xtreme's Tatoeba: the 36 configs `tatoeba.<iso3>` (one per XTREME Tatoeba language) -> (ISO 639-1 code the
# project names the language by, pairs in the one `validation` split). Sources: the config list and
# dataset_info.splits.validation.num_examples of the google/xtreme dataset card (as converted to parquet, e.g.
# https://huggingface.co/datasets/google/xtreme/commit/7470af2d6b03353b2c7395704c4e7179fe2d77a2 "Add tatoeba.tel data
# files": 234), and the ISO 639-3 -> 639-1 map of google-research/xtreme utils_preprocess.py (tatoeba_preprocess,
# lang3_dict), whose 36 codes are XTREME's TASK2LANGS["tatoeba"] in evaluate.py. XTREME-R's Tatoeba adds aze, lit, pol,
# ron, ukr (XTREME_R_TASK2LANGS), which google/xtreme does not have. tests/test_tatoeba.py checks the task configs
# against this table.
TATOEBA_CONFIGS = {
    "afr": ("af", 1_000), "ara": ("ar", 1_000), "ben": ("bn", 1_000), "bul": ("bg", 1_000), "cmn": ("zh", 1_000),
    "deu": ("de", 1_000), "ell": ("el", 1_000), "est": ("et", 1_000), "eus": ("eu", 1_000), "fin": ("fi", 1_000),
    "fra": ("fr", 1_000), "heb": ("he", 1_000), "hin": ("hi", 1_000), "hun": ("hu", 1_000), "ind": ("id", 1_000),
    "ita": ("it", 1_000), "jav": ("jv", 205), "jpn": ("ja", 1_000), "kat": ("ka", 746), "kaz": ("kk", 575),
    "kor": ("ko", 1_000), "mal": ("ml", 687), "mar": ("mr", 1_000), "nld": ("nl", 1_000), "pes": ("fa", 1_000),
    "por": ("pt", 1_000), "rus": ("ru", 1_000), "spa": ("es", 1_000), "swh": ("sw", 390), "tam": ("ta", 307),
    "tel": ("te", 234), "tgl": ("tl", 1_000), "tha": ("th", 548), "tur": ("tr", 1_000), "urd": ("ur", 1_000),
    "vie": ("vi", 1_000),
}
TATOEBA = {"deu": [("Ich habe Hunger.", "I am hungry."), ("Wo ist der Bahnhof?", "Where is the station?"), ("Das ist mein Buch.", "That is my book.")],
           "fra": [("J'ai faim.", "I am hungry."), ("Où est la gare ?", "Where is the station?"), ("C'est mon livre.", "That is my book.")]}
# The same three sentences in every other language of google/xtreme's Tatoeba.
_TATOEBA_MORE = {
    "afr": ("Ek is honger.", "Waar is die stasie?", "Dit is my boek."),
    "ara": ("أنا جائع.", "أين المحطة؟", "هذا كتابي."),
    "ben": ("আমার খিদে পেয়েছে।", "স্টেশনটা কোথায়?", "ওটা আমার বই।"),
    "bul": ("Гладен съм.", "Къде е гарата?", "Това е моята книга."),
    "cmn": ("我饿了。", "车站在哪里？", "那是我的书。"),
    "ell": ("Πεινάω.", "Πού είναι ο σταθμός;", "Αυτό είναι το βιβλίο μου."),
    "est": ("Mul on kõht tühi.", "Kus on jaam?", "See on minu raamat."),
    "eus": ("Gose naiz.", "Non dago geltokia?", "Hori nire liburua da."),
    "fin": ("Minulla on nälkä.", "Missä asema on?", "Tuo on minun kirjani."),
    "heb": ("אני רעב.", "איפה התחנה?", "זה הספר שלי."),
    "hin": ("मुझे भूख लगी है।", "स्टेशन कहाँ है?", "वह मेरी किताब है।"),
    "hun": ("Éhes vagyok.", "Hol van az állomás?", "Az az én könyvem."),
    "ind": ("Saya lapar.", "Di mana stasiunnya?", "Itu buku saya."),
    "ita": ("Ho fame.", "Dov'è la stazione?", "Quello è il mio libro."),
    "jav": ("Aku luwe.", "Stasiune ana ing ngendi?", "Kuwi bukuku."),
    "jpn": ("お腹が空いた。", "駅はどこですか？", "それは私の本です。"),
    "kat": ("მშია.", "სად არის სადგური?", "ის ჩემი წიგნია."),
    "kaz": ("Менің қарным ашты.", "Вокзал қайда?", "Бұл менің кітабым."),
    "kor": ("배고파요.", "역이 어디예요?", "그것은 제 책입니다."),
    "mal": ("എനിക്ക് വിശക്കുന്നു.", "സ്റ്റേഷൻ എവിടെയാണ്?", "അത് എന്റെ പുസ്തകമാണ്."),
    "mar": ("मला भूक लागली आहे.", "स्टेशन कुठे आहे?", "ते माझे पुस्तक आहे."),
    "nld": ("Ik heb honger.", "Waar is het station?", "Dat is mijn boek."),
    "pes": ("من گرسنه‌ام.", "ایستگاه کجاست؟", "آن کتاب من است."),
    "por": ("Estou com fome.", "Onde fica a estação?", "Esse é o meu livro."),
    "rus": ("Я голоден.", "Где вокзал?", "Это моя книга."),
    "spa": ("Tengo hambre.", "¿Dónde está la estación?", "Ese es mi libro."),
    "swh": ("Nina njaa.", "Stesheni iko wapi?", "Hicho ni kitabu changu."),
    "tam": ("எனக்குப் பசிக்கிறது.", "நிலையம் எங்கே இருக்கிறது?", "அது என் புத்தகம்."),
    "tel": ("నాకు ఆకలిగా ఉంది.", "స్టేషన్ ఎక్కడ ఉంది?", "అది నా పుస్తకం."),
    "tgl": ("Gutom na ako.", "Nasaan ang istasyon?", "Iyan ang libro ko."),
    "tha": ("ฉันหิว", "สถานีอยู่ที่ไหน", "นั่นคือหนังสือของฉัน"),
    "tur": ("Açım.", "İstasyon nerede?", "O benim kitabım."),
    "urd": ("مجھے بھوک لگی ہے۔", "اسٹیشن کہاں ہے؟", "وہ میری کتاب ہے۔"),
    "vie": ("Tôi đói.", "Nhà ga ở đâu?", "Đó là quyển sách của tôi."),
}
TATOEBA.update({lang: list(zip(sentences, [english for _, english in TATOEBA["deu"]])) for lang, sentences in _TATOEBA_MORE.items()})
assert sorted(TATOEBA) == sorted(TATOEBA_CONFIGS)


def _tatoeba_rows(lang: str) -> list[dict]:
    # The script keeps each line's trailing newline (it appends the raw lines it reads).
    return [{"source_sentence": f"{src}\n", "target_sentence": f"{tgt}\n", "source_lang": lang, "target_lang": "eng"}
            for src, tgt in TATOEBA[lang]]


def _xnli_rows() -> list[dict]:
    names = ("entailment", "neutral", "contradiction")
    return [{"language": lang, "sentence1": XNLI_BANK[lang][0], "sentence2": XNLI_BANK[lang][1 + i], "gold_label": names[i]}
            for lang in ("de", "en", "sw") for i in range(3)][:8]


_squad_like = Features({"id": STRING, "title": STRING, "context": STRING, "question": STRING, "answers": answers_feature(text_first=False)})
_panx = Features({"tokens": seq(STRING), "ner_tags": seq(label(*NER_TAGS)), "langs": seq(STRING)})
_bitext = Features({"source_sentence": STRING, "target_sentence": STRING, "source_lang": STRING, "target_lang": STRING})
_pawsx = Features({"sentence1": STRING, "sentence2": STRING, "label": STRING})
_udpos = Features({"tokens": seq(STRING), "pos_tags": seq(label(*XTREME_UPOS))})


def _pawsx_rows(lang: str) -> list[dict]:
    return [{"sentence1": a, "sentence2": b, "label": str(max(y, 0))} for a, b, y in PAWSX_BANK[lang]]


def _swap_answers(row: dict) -> dict:
    return {**row, "answers": {"answer_start": row["answers"]["answer_start"], "text": row["answers"]["text"]}}


_tydi_rows = [_swap_answers(qa(c, q, a, f"{lang}-{7_000_000_000_000_000_000 + i}-0", t)) for i, (lang, t, c, q, a) in enumerate(_TYDI)]
XTREME = Replica(
    "google/xtreme",
    aliases=["xtreme"],
    sources=[f"{GH}/xtreme/dataset_infos.json", f"{GH}/xtreme/xtreme.py",
             f"{HF}/google/xtreme/discussions/9/files (Convert dataset to Parquet: <config>/<split>-00000-of-00001.parquet)",
             f"{HF}/xtreme/commit/a357451849b1356ba7ebfe0715b938be15422c30 (Convert dataset to Parquet)",
             f"{HF}/google/xtreme/commit/7470af2d6b03353b2c7395704c4e7179fe2d77a2 (Add tatoeba.tel data files; the card's "
             "dataset_info lists the 36 tatoeba configs and their validation num_examples: TATOEBA_CONFIGS)"],
    other_configs=["MLQA.<c>.<q> (49)", "PAN-X.<lang> (40)", "PAWS-X.<lang> (7)", "SQuAD", "XQuAD.<lang> (11)", "bucc18.<lang> (4)"],
    unverified=["that the parquet conversion (discussion #9) was merged into main and kept every feature unchanged", "tatoeba source_lang values (the script derives them from the "
                "downloaded file name, which may be a cache hash rather than 'deu')"],
    notes=["XNLI: only test (75150) and validation (37350), all 15 languages mixed with a `language` column; gold_label is a STRING",
           "PAWS-X.<lang>: label is a STRING '0'/'1'; train sizes differ from google-research-datasets/paws-x (en 49175, de 49380)",
           "udpos.<Language>: pos_tags names are alphabetical (ADJ=0 ... X=16), unlike universal_dependencies upos; "
           "all 33 are replicated, those other than English and German with the English rows (a schema replica)",
           "tatoeba.<lang>: all 36 replicated; one `validation` split of 1000 pairs, fewer in jav 205, tel 234, tam 307, swh 390, "
           "tha 548, kaz 575, mal 687, kat 746; sentences keep a trailing newline",
           "tydiqa: GoldP, answers struct {answer_start, text}"],
    configs=[
        Config("XNLI", Features({"language": STRING, "sentence1": STRING, "sentence2": STRING, "gold_label": STRING}),
               {"test": 75_150, "validation": 37_350}, {s: _xnli_rows() for s in ("test", "validation")}),
        Config("PAWS-X.en", _pawsx, {"validation": 2_000, "test": 2_000, "train": 49_175}, {s: _pawsx_rows("en") for s in ("validation", "test", "train")}),
        Config("PAWS-X.de", _pawsx, {"validation": 2_000, "test": 2_000, "train": 49_380}, {s: _pawsx_rows("de") for s in ("validation", "test", "train")}),
        Config("PAN-X.en", _panx, {"validation": 10_000, "test": 10_000, "train": 20_000}, {s: _ner_rows("en", False) for s in ("validation", "test", "train")}),
        Config("PAN-X.de", _panx, {"validation": 10_000, "test": 10_000, "train": 20_000}, {s: _ner_rows("de", False) for s in ("validation", "test", "train")}),
        *(_udpos_config(language) for language in UDPOS_SIZES),
        *(Config(f"tatoeba.{lang}", _bitext, {"validation": n}, {"validation": _tatoeba_rows(lang)})
          for lang, (_, n) in sorted(TATOEBA_CONFIGS.items())),
        Config("tydiqa", _squad_like, {"train": 49_881, "validation": 5_077}, {s: _tydi_rows for s in ("train", "validation")}),
    ],
)

TATOEBA_MINING = Replica(
    "mteb/tatoeba-bitext-mining",
    sources=[f"{HF}/mteb/tatoeba-bitext-mining/tree/960cb335a1cf3b9ee51059f5c9cae47060ff738e/deu-eng/test (config deu-eng, split test; main is json)"],
    other_configs=["<lang>-eng for 112 languages"],
    unverified=["column names sentence1/sentence2 (mteb's bitext convention; not read)", "1000 pairs per config (the Tatoeba test sets; not read)",
                "whether the README declares per-pair configs (the parquet export has them, so the viewer saw configs)"],
    notes=["sentence1 is the non-English side, sentence2 English"],
    configs=[Config(f"{lang}-eng", Features({"sentence1": STRING, "sentence2": STRING}), {"test": 1_000},
                    {"test": [{"sentence1": src, "sentence2": tgt} for src, tgt in TATOEBA[lang]]}) for lang in ("deu", "fra")],
)

REPLICAS = [XCOPA, SUPER_GLUE, SOCIAL_I_QA, WIKIANN, WNUT_17, UNIVERSAL_DEPENDENCIES, XTREME, TATOEBA_MINING]
