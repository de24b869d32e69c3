"""Entity embeddings learned on the rating task, carried over to box office: the issue's embedding direction.

    python benchmarks/entity_embeddings.py [--checkpoints checkpoints/table2] [--seeds 5] [--json out.json]

Per (split, seed) of an ``evaluate.py table2=full`` run it takes that run's films, split and
featurizer (from the P-EL checkpoint) and fits ``EntityNet`` (features + a learned vector per
director, actor, writer and company) in these variants:
- ENN: box office only (the control);
- P-ENN: pretrained on the split's pretraining films (rating, or rating and year-standardised
  review count as two outputs), then fine-tuned on box office with the embeddings *frozen*, and
  then *unfrozen* (continuing from the frozen fit at half the learning rate).
Fine-tuning early-stops on the validation films, as P-EL's does. Then each network joins the
default P-EL (already a head over the fine-tuned stack and EL) in a selection head, its weight
chosen on the validation films by ``stages.blend_weight``.

Printed: test R2 per variant and paired gains; the head's gain over P-EL, with AutoGluon's per-seed
score beside it where ``docs/autogluon.json`` has one; and the squared error on the test films whose
people and companies all appear only in the rating catalog (none in the box-office training films),
where pretraining should help most.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from common import add_table2_run_arguments, config, load_autogluon, table2_members, write_report
from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import checkpoint_config
from pel_torch.features.entity_slots import EntitySlots
from pel_torch.features.lists import explode
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, select_kernels
from pel_torch.learners.entity_net import EntityNet, fit_network, non_embedding_parameters
from pel_torch.pipeline import prepare
from pel_torch.stages import blend_weight, pretraining_target, regression_metrics
from pel_torch.threads import limit_threads

PRETRAIN_TARGETS = ("rating", "rating+votes_year")


def _pretraining_targets(prepared, kind: str) -> np.ndarray:
    """``(n_films, k)`` standardised targets as ``stage=pretrain`` builds them, NaN outside the pretraining films."""
    parts = kind.split("+")
    y = np.full((len(prepared.films), len(parts)), np.nan)
    for j, part in enumerate(parts):
        rows, values, _ = pretraining_target(prepared, part)
        y[rows, j] = values
    return y


def _catalog_only(films, split, fields) -> np.ndarray:
    """Test films whose every listed person/company is absent from the box-office training films, at least one in the pretraining films."""
    entities = [set() for _ in range(len(films))]
    for field, limit in fields.items():
        for row, item in zip(*explode(films[field], limit)):
            entities[row].add((field, item))
    in_train = set().union(*(entities[row] for row in split.train))
    in_catalog = set().union(*(entities[row] for row in split.pretrain))
    return np.array([row for row in split.test if entities[row] and not entities[row] & in_train and entities[row] & in_catalog], dtype=np.int64)


def _run(folder: Path, threads: int, log) -> dict:
    members = table2_members(folder)
    checkpoint = load_checkpoint(members["P-EL"])
    cfg = checkpoint_config(config([f"threads={threads}"]), checkpoint)
    seed = int(cfg.seed)
    prepared = prepare(cfg, featurizer=checkpoint.featurizer)
    films, split, z = prepared.films, prepared.split, prepared.features
    y = TargetScale.from_dict(checkpoint.spec["target"]).encode(prepared.films)
    predictions = {"P-EL": predict_batches(select_kernels(checkpoint.model, "auto")[0], prepared.raw)}
    el = load_checkpoint(members["EL"])
    predictions["EL"] = predict_batches(select_kernels(el.model, "auto")[0], prepared.raw)

    encoder = EntitySlots().fit(films.iloc[split.history])
    slots = encoder.transform(films)

    def network(n_outputs):
        return EntityNet(z.shape[1], encoder.vocabulary_sizes, encoder.field_slices(), n_outputs=n_outputs)

    def box_office(net, **settings):
        started = time.perf_counter()
        epochs = fit_network(net, z, slots, y, split.train, split.val, seed=seed, **settings)
        log(f"    box office: {epochs} epochs, {time.perf_counter() - started:.0f} s")
        return net.predict(z, slots)[:, 0]

    net = network(1)
    predictions["ENN"] = box_office(net)
    rng = np.random.default_rng(seed)
    for kind in PRETRAIN_TARGETS:
        targets = _pretraining_targets(prepared, kind)
        rows = rng.permutation(split.pretrain[~np.isnan(targets[split.pretrain]).all(axis=1)])
        n_holdout = len(rows) // 10
        net = network(targets.shape[1])
        started = time.perf_counter()
        epochs = fit_network(net, z, slots, targets, rows[n_holdout:], rows[:n_holdout], seed=seed)
        log(f"    pretrain {kind} on {len(rows):,} films: {epochs} epochs, {time.perf_counter() - started:.0f} s")
        net.new_output(1, seed)
        predictions[f"P-ENN {kind} frozen"] = box_office(net, parameters=non_embedding_parameters(net))
        predictions[f"P-ENN {kind} unfrozen"] = box_office(net, learning_rate=5e-4)

    test, val = split.test, split.val
    row = {name: regression_metrics(y[test], p[test]) for name, p in predictions.items()}
    for name in [n for n in predictions if "ENN" in n]:
        w = blend_weight(predictions["P-EL"][val], predictions[name][val], y[val])
        row[f"P-EL + {name}"] = {**regression_metrics(y[test], (1 - w) * predictions["P-EL"][test] + w * predictions[name][test]), "weight": w}
    subgroup = _catalog_only(films, split, encoder.fields)
    row["catalog_only"] = {"films": int(len(subgroup)),
                           **{name: float(np.mean((p[subgroup] - y[subgroup]) ** 2)) for name, p in predictions.items()}}
    return row


def _table(results: dict, autogluon: dict) -> str:
    lines = ["| split | model | test R2 | paired gain | seeds positive | vs | head weight |", "|---|---|---|---|---|---|---|"]

    def add(split, rows, name, base):
        r2 = np.array([r[name]["r2"] for r in rows])
        gain = r2 - np.array([r[base]["r2"] for r in rows])
        weight = f"{np.mean([r[name]['weight'] for r in rows]):.2f}" if "weight" in rows[0][name] else "-"
        lines.append(f"| {split} | {name} | {r2.mean():.3f} ± {r2.std(ddof=1):.3f} | {gain.mean():+.3f} ± {gain.std(ddof=1):.3f} | "
                     f"{(gain > 0).sum()} of {len(rows)} | {base} | {weight} |")

    for split, rows in results.items():
        networks = [n for n in rows[0] if n.startswith("P-ENN")]
        add(split, rows, "ENN", "EL")
        for name in networks:
            add(split, rows, name, "ENN")
        for name in ["ENN", *networks]:
            add(split, rows, f"P-EL + {name}", "P-EL")
        ag = autogluon.get(split, {}).get("AutoGluon", {}).get("r2", [])
        if len(ag) == len(rows):
            for name in ["P-EL", *(f"P-EL + {n}" for n in ["ENN", *networks])]:
                gain = np.array([r[name]["r2"] for r in rows]) - np.array(ag)
                lines.append(f"| {split} | {name} | | {gain.mean():+.3f} ± {gain.std(ddof=1):.3f} | {(gain > 0).sum()} of {len(rows)} | AutoGluon | |")
    lines += ["", "Squared error on the test films whose people and companies appear only in the rating catalog (mean over seeds):", "",
              "| split | films | EL | P-EL | ENN | " + " | ".join(n for n in next(iter(results.values()))[0] if n.startswith("P-ENN")) + " |"]
    lines.append("|---" * (lines[-1].count("|") - 1) + "|")
    for split, rows in results.items():
        names = ["EL", "P-EL", "ENN", *(n for n in rows[0] if n.startswith("P-ENN"))]
        films = "/".join(str(r["catalog_only"]["films"]) for r in rows)
        lines.append(f"| {split} | {films} | " + " | ".join(f"{np.mean([r['catalog_only'][n] for r in rows]):.3f}" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_table2_run_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    limit_threads(args.threads)
    started = time.perf_counter()
    results = {}
    for split in args.splits:
        for seed in range(args.seeds):
            folder = Path(args.checkpoints, f"{split}-seed{seed}")
            print(f"{folder.name}", file=sys.stderr, flush=True)
            results.setdefault(split, []).append(_run(folder, args.threads, lambda text: print(text, file=sys.stderr, flush=True)))
    table = _table(results, load_autogluon(args.autogluon))
    print(table)
    if args.json:
        write_report(args.json, "entity_embeddings.py", started, results=results, table=table)


if __name__ == "__main__":
    main()
