"""How many rows the reference selector needs: held-out accuracy and regret against training rows.

3M synthetic rows (one a second) are labelled and split by time (the newest 20%
held out, 300k of them judged); the model is trained on random samples of
25k .. 2.4M of the older rows, twice each. The numbers chose
``dwcp_data.selector.SAMPLE_ROWS`` (see BENCHMARKS.md).

    python benchmarks/bench_selector_sample.py
"""

import json
import time
from datetime import datetime, timezone

import polars as pl
from lightgbm import LGBMClassifier

import dwcp_data
from dwcp_data import features, regret

end = datetime(2025, 11, 30, tzinfo=timezone.utc)
df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(3_000_000, seed=7, end=end, freq="1s"))
train_all, held = dwcp_data.split_by_time(df, test_fraction=0.2)
held = held.sample(n=300_000, seed=1)
Xh = features(held).X
engines = pl.Series("e", dwcp_data.COMPRESSIONS, dtype=pl.Enum(list(dwcp_data.COMPRESSIONS)))
for n in (25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_400_000):
    for rep in range(2):
        part = train_all.sample(n=n, seed=rep)
        f = features(part)
        ok = f.y >= 0
        t = time.perf_counter()
        m = LGBMClassifier(
            n_estimators=200, random_state=0, deterministic=True, force_row_wise=True, verbose=-1
        ).fit(f.X[ok], f.y[ok])
        fit = time.perf_counter() - t
        chosen = engines.gather(pl.Series(m.predict(Xh), dtype=pl.UInt32))
        r = regret(held, chosen)
        print(
            json.dumps(
                {
                    "rows": n,
                    "rep": rep,
                    "fit_s": round(fit, 1),
                    "oracle_share": round(r.oracle_share, 4),
                    "mean_ms": round(r.mean_ms, 3),
                }
            ),
            flush=True,
        )
