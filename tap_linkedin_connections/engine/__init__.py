"""The task engine: one OutX task's life for any task kind, under the account's budget.

It knows tasks (a kind, a key, an id, a status), never what they fetch: ``runner.py``
runs a task from reuse to result, ``pacing.py`` spends the account's budget, ``ledger.py``
remembers every task across runs, ``queue.py`` says what OutX's queue order proves,
``timing.py`` when to poll, ``progress.py`` the progress lines.
"""
