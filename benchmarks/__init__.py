"""Speed benchmarks of mlimpute against R's jomo (run: python -m benchmarks.vs_jomo)."""
