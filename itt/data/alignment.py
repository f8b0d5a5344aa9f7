"""Checks that datasets which are translations of each other are split as translations.

Translations split by a shared row id (a spec's ``aligned_with``, ``itt.data.splitting``) keep every held-out
item's translation out of training. The first two checks here catch where that promise silently fails and say
it in one warning line each (evidence, not proof, so never an error): local files that look like row-by-row
translations but are not declared aligned, and aligned files whose rows do not line up id by id. The third
says where two different hub datasets' offline stand-ins are the same rows (``shared_stand_in_rows``).
"""

from __future__ import annotations

import numpy as np

from itt.data.files import is_local, line_rows
from itt.data.held_out import id_keys
from itt.data.overlap import fingerprint
from itt.data.preparation import Prepared
from itt.stages import RunSpec


def unaligned_translations(spec: RunSpec, aligned: set[str]) -> list[str]:
    """Local files the run (or a step before it) trains on and local files of another language in the same run
    with exactly as many rows, where the two are not split by shared id (``aligned_with``): likely row-by-row
    translations (XTREME's dev sets are) whose validation/test items then have their translation in a training
    split, scored as if unseen. Nothing says they are translations, so this is a warning, not an error; rows are
    counted without reading the data (``line_rows``)."""
    cfg = spec.cfg
    # the run's own roles first, so the suggestion points an intermediate at its target (aligned_with: en)
    trained = dict.fromkeys(role for step in [spec, *reversed(spec.chain())] for role in step.roles)
    named = {**{role: f"task.datasets.{role}" for role in cfg.task.datasets}, **{name: f"task.evals.{name}" for name in spec.evals}}
    nodes = {**dict(cfg.task.datasets), **{name: cfg.task.evals[name] for name in spec.evals}}
    uses = [*trained, *(name for name in spec.evals if name not in trained)]
    counts = {name: line_rows(nodes[name].path, header=not nodes[name].get("columns"))
              for name in uses if is_local(nodes[name].path)}
    lines, seen = [], set()
    for role in trained:
        for other in uses:
            pair = frozenset((role, other))
            if other == role or counts.get(role) is None or counts[role] != counts.get(other) or pair in seen:
                continue
            seen.add(pair)
            if nodes[role].get("lang") == nodes[other].get("lang") or {role, other} <= aligned:
                continue
            lines.append(f"{named[other]} ({nodes[other].get('lang')}) has as many rows as {named[role]} ({nodes[role].get('lang')}), "
                         f"{counts[role]:,}, and they are not split by shared row id: if they are translations row by row, "
                         f"add aligned_with: {role} to {named[other]} (else items whose translation is trained on are scored as unseen)")
    return lines


#: Below this share of shared row ids with the same gold label, two aligned classification sets are not
#: translations row by row (translations keep their label: PAWS-X dev agrees on ~98 %, XNLI on 100 %; a
#: file shifted by one row agrees at chance, ~50 % or ~33 %).
ALIGNED_AGREEMENT = 0.8


def misaligned_translations(train: list[Prepared], evals: list[Prepared], aligned: set[str]) -> list[str]:
    """Aligned sets (``aligned_with``) whose rows do not look like translations of the run's training set's
    rows with the same id: their gold labels, compared id by id over the validation and test rows, agree
    less than ``ALIGNED_AGREEMENT``. Split by row id alone, such files (a header line in one of them, a row
    deleted while cleaning) put items in an eval split whose translation is trained on. Classification sets
    with the training set's label names only; a warning, since agreement is evidence, not proof."""
    def labels_by_id(p: Prepared) -> dict:
        return {i: y for split in p.rows.values() if {"id", "label"} <= set(split.column_names)
                for i, y in zip(split["id"], split["label"]) if not isinstance(y, list)}

    lines = []
    for base in (p for p in train if p.name in aligned):
        reference = labels_by_id(base)
        for other in (p for p in [*train, *evals] if p is not base and p.name in aligned and p.labels == base.labels):
            theirs = labels_by_id(other)
            shared = [i for i in theirs if i in reference]
            if len(shared) < 20:  # too few to tell
                continue
            agree = sum(theirs[i] == reference[i] for i in shared) / len(shared)
            if agree < ALIGNED_AGREEMENT:
                lines.append(f"{other.where} is split by row id with {base.where}, but the gold labels of only "
                             f"{agree:.0%} of their {len(shared):,} shared validation/test ids agree: its rows are likely "
                             f"not translations of the same rows (a header line or a missing row shifts every id), so "
                             f"its eval items may have their translation in training; give both an id_field")
    return lines


def unshared_ids(train: list[Prepared], evals: list[Prepared], groups: dict[str, str]) -> list[str]:
    """Eval sets linked by ``aligned_with`` (``groups``: ``identity.declared_alignment``) to a set the run trains on
    that share not one row id with it: the ids do not name translations (an ``id_field`` that is not shared across
    the languages, or one side without it), so splitting by them keeps nothing out of training, and nothing is left
    out (``itt.data.held_out``). A warning: the files may be other rows indeed."""
    # every id a trained set holds (training rows, then its own validation and test rows), once per set
    held = {t.name: fingerprint(*([t.train_ids] if t.train_ids is not None else []),
                                *(id_keys(rows) for rows in t.rows.values())) for t in train}
    lines = []
    for p in evals:
        partners = [t for t in train if p.name in groups and groups.get(t.name) == groups[p.name]]
        if not partners:
            continue
        mine = fingerprint(*(id_keys(rows) for rows in p.rows.values()))
        theirs = fingerprint(*(held[t.name] for t in partners))
        if len(mine) and len(theirs) and not np.isin(mine, theirs).any():
            lines.append(f"{p.where} is aligned_with {', '.join(t.name for t in partners)}, but none of its {len(mine):,} "
                         f"row ids is one of theirs: the ids do not name translations, so no held-out item is kept out "
                         f"of training by them; give both an id_field their translations share")
    return lines


def shared_stand_in_rows(spec: RunSpec) -> list[str]:
    """Under source=embedded, pairs of the run's datasets (those it or a step before it trains on, and its eval
    sets) that are different hub datasets but whose stand-ins draw the same rows of one generator stream: the
    same generator, language (any, for a translation-aligned generator), domain and label count (any, for a
    generator with ``stream_labels``), and row ranges
    ``[embedded_offset, embedded_offset + embedded_rows)`` that overlap. Offline they would be the same items (or
    translations of them), scored alike, where the hub has two datasets. Not reported: the same ``path`` and
    ``subset``, one benchmark's languages (the same ``path``: XQuAD's, MLQA's), and sets linked by ``aligned_with``
    (declared the same rows). A config raising one stand-in's ``embedded_rows`` past the next one's offset gets this."""
    cfg = spec.cfg
    if cfg.source.name != "embedded":
        return []
    from itt.data import embedded  # noqa: PLC0415 (word lists: only under source=embedded)
    from itt.data.loading import stand_in_domain  # noqa: PLC0415
    from itt.identity import generator_of, linked_by_aligned_with  # noqa: PLC0415 (identity imports this package)

    trained = dict.fromkeys(role for step in [spec, *reversed(spec.chain())] for role in step.roles)
    named = {**{name: f"task.evals.{name}" for name in spec.evals}, **{role: f"task.datasets.{role}" for role in trained}}
    nodes = {**{name: cfg.task.evals[name] for name in spec.evals}, **{role: cfg.task.datasets[role] for role in trained}}
    group = linked_by_aligned_with(nodes, {name: name for name in nodes})
    streams = {}
    for name, node in nodes.items():
        if is_local(node.path):
            continue
        generator = generator_of(cfg, node)
        if generator not in embedded.GENERATORS or node.lang not in embedded.langs(generator):  # no stand-in
            continue
        gen = embedded.GENERATORS[generator]
        lang = "*" if gen.aligned else node.lang
        # every label count of a stream_labels generator is one stream (choice: Social IQa's 3 choices, COPA's 2)
        labels = len(node.labels) if node.get("labels") and gen.stream_labels is None else None
        start = node.get("embedded_offset") or 0
        streams[name] = ((generator, lang, stand_in_domain(generator, node), labels), start, start + node.embedded_rows)
    lines, names = [], list(streams)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (stream, start, end), (other, other_start, other_end) = streams[a], streams[b]
            same_dataset = nodes[a].path == nodes[b].path and (nodes[a].get("subset") == nodes[b].get("subset")
                                                              or nodes[a].lang != nodes[b].lang)
            if stream != other or same_dataset or group[a] == group[b] or end <= other_start or other_end <= start:
                continue
            lines.append(f"{named[a]} ({nodes[a].path}) and {named[b]} ({nodes[b].path}) are stand-ins of generator "
                         f"{stream[0]} with overlapping rows ({start}-{end - 1} and {other_start}-{other_end - 1} of its "
                         f"stream): offline they share items that are two datasets on the hub; give one an "
                         f"embedded_offset past the other's rows")
    return lines
