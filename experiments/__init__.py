"""The course's experiment scripts, importable as a package.

Each module runs as a script from the repository root (``python experiments/<name>.py``)
and can be imported by the book's pages, e.g. ``from experiments import head_to_head``:

- :mod:`experiments.head_to_head`: RNN, LSTM and GRU on three tasks at growing lags;
- :mod:`experiments.lstm_reber`: the two Reber-grammar experiments of the LSTM chapter.
"""
