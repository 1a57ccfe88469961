"""The parts of the MosPay benchmark that ``bench/run.py`` composes, one module a job.

- ``common``: paths, the benchmark client's constants, logging and small helpers;
- ``meters``: CPU seconds and peak memory of processes;
- ``database``: the benchmark's PostgreSQL (embedded, or a fresh database on DATABASE_URL);
- ``servers``: the processes this run starts: the fixed-answer downstream and the switch;
- ``onboarding``: the benchmark client through the admin API, its tokens, the 10k-client scale-up;
- ``loadgen``: wrk with ``bench/payment.lua`` and its output;
- ``steps``: one measured step (switch or direct floor) and its lost/duplicated check;
- ``dbfloor``: the database floor, pgbench running the switch's own per-payment SQL;
- ``profiling``: py-spy on the workers and the hot-spot tables;
- ``report``: the printed table, targets, the results JSON and docs/performance.md;
- ``bench``: the whole run, in order.
"""
