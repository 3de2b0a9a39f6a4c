"""Runs CTGAN 0.12.1 (in its own venv, see tabular_adult.py --with-ctgan) at its defaults.

Usage: python _ctgan_runner.py TRAIN.csv DISCRETE.json OUT.csv N EPOCHS -> prints JSON timings.
Only calls CTGAN's public API; nothing of it is copied into ganforge.
"""
import json
import sys
import time

import pandas as pd
from ctgan import CTGAN

train, discrete, out, n, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
df = pd.read_csv(train)
cols = json.load(open(discrete))
t0, c0 = time.time(), time.process_time()
model = CTGAN(epochs=epochs)
model.fit(df, cols)
fit_s, fit_cpu = time.time() - t0, time.process_time() - c0
t0 = time.time()
synth = model.sample(n)
sample_s = time.time() - t0
synth.to_csv(out, index=False)
print(json.dumps({"fit_s": fit_s, "sample_s": sample_s, "fit_cpu_s": fit_cpu}))
