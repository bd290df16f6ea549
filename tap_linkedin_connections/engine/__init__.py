"""The task engine: one OutX task's life for any task kind, under the account's budget.

It knows tasks (a kind, a key, an id, a status), never what they fetch. ``runner.py``
runs a task from reuse to result; ``poller.py`` waits for one; ``queue.py`` says what
OutX's queue order proves (pure); ``pacing.py`` spends the account's budget; ``ledger.py``
remembers every task across runs; ``timing.py`` says when to poll (pure);
``progress.py`` writes the progress lines. Imports run one way: runner -> poller ->
queue, timing, ledger; nothing here imports a kind of work (``connections/``).
"""
