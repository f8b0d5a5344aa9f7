"""English vs target-language ITT at a glance: Δ (ITT − no-ITT) of each cross-lingual view row, one
column per intermediate language.

The rows are those of the cross-lingual view (:mod:`itt.report.crosslingual`): each eval language,
the zero-shot average, the transfer gap, and the family and genus averages. A column is an ITT
variant, labelled by the language its intermediate steps trained on (``intermediate_lang``: ``en``,
``de``, ``en>de`` for a chain); two variants with the same language keep their variant name too, and one
variant from intermediates trained with several settings its ``int-hp=<intermediate_hparams>`` too. Only
targets whose ITT variants trained in at least two languages get a table: that is the comparison
"English vs target-language (or translate-train) ITT, by language family". Every number is a cell of
the language table, so its CI and Holm-adjusted p are there (``languages.csv``); here a ``*`` marks a
Holm-adjusted p < 0.05.
"""

from __future__ import annotations

import pandas as pd

from .crosslingual import LANG_BASE, VIEWS
from .ledger_frame import group_suffix
from .stats import ITT_KEYS
from .tables import SETTING_LABEL

ROW_KEYS = ["view", "group_name", "eval", "eval_lang"]
PIVOT_COLUMNS = LANG_BASE + ROW_KEYS + ["intermediate_lang", "itt_variant", "intermediate_hparams", "column",
                                        "delta", "n_pairs", "p_holm"]


def itt_language_table(lang_table: pd.DataFrame) -> pd.DataFrame:
    """Long form (one line per view row × ITT variant) of the targets with ≥ 2 intermediate languages;
    ``column`` is the label the pivot shows."""
    if lang_table.empty:
        return pd.DataFrame(columns=PIVOT_COLUMNS)
    itt = lang_table[lang_table["itt_variant"].notna() & lang_table["intermediate_lang"].notna()].copy()
    parts = []
    for _, base in itt.groupby(LANG_BASE, sort=True, dropna=False):
        variants = base[["itt_variant", "intermediate_hparams", "intermediate_lang"]].drop_duplicates(ITT_KEYS)
        if variants["intermediate_lang"].nunique() < 2:
            continue
        shared = variants.groupby("intermediate_lang")["itt_variant"].transform("nunique") > 1
        settings = variants["itt_variant"].duplicated(keep=False)
        label = {(v, hp): str(lang) + (f" ({v})" if dup else "") + (f" · {SETTING_LABEL.format(hp)}" if several else "")
                 for v, hp, lang, dup, several in zip(variants["itt_variant"], variants["intermediate_hparams"],
                                                      variants["intermediate_lang"], shared, settings)}
        columns = [label[key] for key in zip(base["itt_variant"], base["intermediate_hparams"])]
        parts.append(base.assign(column=columns))
    if not parts:
        return pd.DataFrame(columns=PIVOT_COLUMNS)
    return pd.concat(parts, ignore_index=True)[PIVOT_COLUMNS]


def render_itt_language_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    out = ["## Δ by intermediate language", "",
           "_Δ = ITT − no-ITT of each cross-lingual row (languages, zero-shot average, transfer gap, "
           "family and genus averages), one column per intermediate language; * = Holm-adjusted "
           "p < 0.05 (CIs and p in languages.csv)._", ""]
    for keys, base in table.groupby(LANG_BASE, sort=True, dropna=False):
        k = dict(zip(LANG_BASE, keys))
        columns = sorted(base["column"].unique(), key=lambda c: (c != "en", c))
        out += [f"### {k['task']} / {k['target']} · {k['model']} · {k['eval_kind']} ({k['metric']})"
                f"{group_suffix(table, k, ' · ')}", ""]
        rows = (base[ROW_KEYS].drop_duplicates()
                .assign(_order=lambda f: f["view"].map(VIEWS.index))
                .sort_values(["_order", "group_name", "eval_lang", "eval"], na_position="last"))
        lines = []
        for row in rows.itertuples(index=False):
            cells = base[(base["view"] == row.view) & (base["eval"] == row.eval)].set_index("column")
            label = f"{row.group_name} · {row.eval}" if row.view == "language" else str(row.eval)
            lines.append([label] + [_cell(cells, c) for c in columns])
        out += ["| row | " + " | ".join(f"ITT {c}" for c in columns) + " |",
                "|---|" + "---:|" * len(columns)]
        out += ["| " + " | ".join(line) + " |" for line in lines] + [""]
    return "\n".join(out)


def _cell(cells: pd.DataFrame, column: str) -> str:
    if column not in cells.index:
        return "–"
    r = cells.loc[column]
    if isinstance(r, pd.DataFrame):
        r = r.iloc[0]
    if pd.isna(r["delta"]):
        return "–"
    star = "*" if pd.notna(r["p_holm"]) and r["p_holm"] < 0.05 else ""
    return f"{r['delta']:+.3f}{star}"
