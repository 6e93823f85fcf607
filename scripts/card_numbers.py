"""Print the numbers a shipped model's card quotes: its recorded gap and curve, and the
PPD-mean gap to the exact posterior on every paper context of its prior.

    python scripts/card_numbers.py sines
    python scripts/card_numbers.py sines_and_lines
    python scripts/card_numbers.py coin_counting    # classifiers: P(heads) against exact
    python scripts/card_numbers.py markov_pool      # sequence models: KL per token, baselines
    python scripts/card_numbers.py                  # every shipped model

The mean gap uses 201 queries on [-1, 1]; contexts longer than the model's ``max_context``
are skipped (and said so). A sequence model's numbers are its card's: the KL from the exact
next-token predictive, the uniform, unigram and bigram predictors' and the KL against steps.
The numbers come from :mod:`bayeslens.gaps`, which also writes the book's gap table
(``python -m bayeslens.gaps``); this is ``python -m bayeslens.gaps --print``.
"""

from __future__ import annotations

import sys

from bayeslens.gaps import main

if __name__ == "__main__":
    raise SystemExit(main(["--print", *sys.argv[1:]]))
