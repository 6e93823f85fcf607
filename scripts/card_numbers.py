"""Print the numbers a shipped model's card quotes: its recorded gap and curve, and the
PPD-mean gap to the exact posterior on every paper context of its prior.

    python scripts/card_numbers.py sines
    python scripts/card_numbers.py sines_and_lines
    python scripts/card_numbers.py coin_counting    # classifiers: P(heads) against exact

The mean gap uses 201 queries on the prior's x range; contexts longer than the model's
``max_context`` are skipped (and said so).
"""

from __future__ import annotations

import argparse

import torch

from bayeslens import paper
from bayeslens.checkpoints import load_pretrained
from bayeslens.evaluate import mean_gap
from bayeslens.posterior import posterior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a model in bayeslens/pretrained/")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_pretrained(args.name)
    card = model.metadata
    prior_name = card["prior"]["name"]
    gap = card.get("gap") or {}
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.name}: prior {prior_name}, {n_params:,} parameters, "
          f"{card['train_config']['steps']:,} steps, {card.get('train_seconds', 0):.0f} s")
    if gap:
        print(f"NLL gap {gap['gap']:.4f} +- {gap['se']:.4f} (model {gap['model_nll']:.4f}, "
              f"exact {gap['exact_nll']:.4f}; {gap['n_datasets']:,} datasets)")
    for point in card.get("gap_vs_steps") or []:
        print(f"  step {point['step']:>6,}: gap {point['gap']:.4f} +- {point['se']:.4f}")
    x_query = torch.linspace(-1, 1, 201, dtype=torch.float64)
    for ctx in paper.CONTEXTS:
        prior = ctx.prior()
        if prior_name not in (getattr(prior, "name", None), ctx.prior.__name__):
            continue
        x_context, y_context = ctx.make()
        if x_context.numel() > model.config.max_context:
            print(f"  {ctx.label}: {x_context.numel()} points > max_context, skipped")
            continue
        if not model.config.is_regression:  # the coin: P(heads) of the next flip
            q = torch.zeros(1)
            exact = float(posterior(prior, x_context, y_context).class_probs(q)[0, 1])
            net = float(model.class_probs(x_context, y_context, q)[0, 1])
            print(f"  {ctx.label:32s} P(heads): exact {exact:.4f}, PFN {net:.4f},"
                  f" error {net - exact:+.4f}")
            continue
        g = mean_gap(model, prior, x_context, y_context, x_query)
        print(f"  {ctx.label:32s} mean gap: rms {g.rms:.3f}, max {g.max_abs:.3f}")


if __name__ == "__main__":
    main()
