"""Tests for rnnlib.data: shapes, determinism, task definitions, the Reber grammars, text."""

import re
from collections import defaultdict

import numpy as np
import pytest

from rnnlib import data

# ---------------------------------------------------------------------------------------
# Determinism and dtypes, for every generator
# ---------------------------------------------------------------------------------------

GENERATORS = {
    "sine_wave": lambda rng, dtype=np.float64: data.sine_wave(4, 9, rng=rng, dtype=dtype),
    "adding": lambda rng, dtype=np.float64: data.adding_problem(4, 12, rng=rng, dtype=dtype),
    "adding-1997": lambda rng, dtype=np.float64: data.adding_problem(
        4, 12, variant="hochreiter1997", rng=rng, dtype=dtype),
    "copy": lambda rng, dtype=np.float64: data.copy_task(4, 3, 5, rng=rng, dtype=dtype),
    "embedded_reber": lambda rng, dtype=np.float64: data.embedded_reber(4, rng=rng,
                                                                         dtype=dtype)[:4],
    "reber_stream": lambda rng, dtype=np.float64: data.reber_stream(2, 40, rng=rng,
                                                                     dtype=dtype)[:4],
    "char_batch": lambda rng, dtype=np.float64: data.char_corpus().batch(3, 8, rng=rng,
                                                                          dtype=dtype),
}


@pytest.mark.parametrize("make", GENERATORS.values(), ids=GENERATORS.keys())
def test_same_seed_same_data_other_seed_other_data(make):
    first, again, other = make(7), make(np.random.default_rng(7)), make(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("make", GENERATORS.values(), ids=GENERATORS.keys())
def test_float32_inputs_on_request(make):
    X = make(0, np.float32)[0]
    assert X.dtype == np.float32


# ---------------------------------------------------------------------------------------
# Sine waves
# ---------------------------------------------------------------------------------------


def test_sine_wave_shapes_and_shift():
    X, Y = data.sine_wave(5, 30, rng=0)
    assert X.shape == Y.shape == (5, 30, 1)
    np.testing.assert_array_equal(Y[:, :-1], X[:, 1:])  # Y is X one step later


def test_clean_sine_wave_is_a_sine():
    X, _ = data.sine_wave(3, 200, noise=0.0, period_range=(20.0, 20.0), rng=0)
    assert np.abs(X).max() <= 1.0
    np.testing.assert_allclose(X[:, 20:], X[:, :-20], atol=1e-12)  # period 20 exactly


def test_sine_wave_noise_has_the_requested_size():
    X, _ = data.sine_wave(50, 200, noise=0.3, rng=1)
    clean, _ = data.sine_wave(50, 200, noise=0.0, rng=1)  # same periods and phases
    assert np.std(X - clean) == pytest.approx(0.3, rel=0.05)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_sequences": 0}, "n_sequences: expected a positive integer"),
    ({"length": 2.5}, "length: expected a positive integer"),
    ({"noise": -1.0}, "noise: expected a number >= 0"),
    ({"period_range": (5.0, 1.0)}, "period_range: expected"),
])
def test_sine_wave_bad_arguments(kwargs, message):
    args = {"n_sequences": 2, "length": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.sine_wave(args.pop("n_sequences"), args.pop("length"), **args)


# ---------------------------------------------------------------------------------------
# The adding problem
# ---------------------------------------------------------------------------------------


def test_adding_problem_simplified():
    T = 20
    X, y = data.adding_problem(500, T, rng=0)
    assert X.shape == (500, T, 2) and y.shape == (500, 1)
    values, markers = X[..., 0], X[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, : T // 2].sum(axis=1) == 1).all()  # one mark in each half
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1))
    # The baseline of always answering 1 is an MSE of 1/6.
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, rel=0.15)


def test_adding_problem_as_in_the_1997_paper():
    T = 30
    X, y = data.adding_problem(2000, T, variant="hochreiter1997", rng=0)
    values, markers = X[..., 0], X[..., 1]
    assert ((values >= -1) & (values <= 1)).all()
    marked = markers == 1.0
    assert (marked.sum(axis=1) == 2).all()
    positions = np.sort(np.argwhere(marked)[:, 1].reshape(-1, 2), axis=1)  # (N, 2)
    assert positions[:, 1].max() < T // 2  # both marks among the first T/2 - 1 + 1 steps
    assert (np.sort(positions, axis=1)[:, 0] < 10).all()  # at least one in the first ten
    # First and last step carry -1 unless marked; everything else is 0 or a mark.
    assert (markers[:, -1] == -1).all()
    assert (markers[~marked[:, 0], 0] == -1).all()
    assert set(np.unique(markers[:, 1:-1])) <= {0.0, 1.0}
    X1_X2 = (values * marked).sum(axis=1)
    np.testing.assert_allclose(y[:, 0], 0.5 + X1_X2 / 4)
    assert ((y >= 0) & (y <= 1)).all()
    # A marked first step has its value set to 0 when it holds the first mark.
    assert (values[marked[:, 0], 0] == 0).any()


def test_adding_problem_bad_arguments():
    with pytest.raises(ValueError, match="variant: expected 'simplified' or 'hochreiter1997'"):
        data.adding_problem(2, 10, variant="paper")
    with pytest.raises(ValueError, match="length: expected at least 10"):
        data.adding_problem(2, 9, variant="hochreiter1997")
    with pytest.raises(ValueError, match="length: expected at least 2"):
        data.adding_problem(2, 1)


# ---------------------------------------------------------------------------------------
# The copy task
# ---------------------------------------------------------------------------------------


def test_copy_task_layout():
    S, delay, K = 4, 6, 5
    X, targets, mask = data.copy_task(10, S, delay, n_symbols=K, rng=0)
    T = 2 * S + delay
    assert X.shape == (10, T, K + 2) and targets.shape == mask.shape == (10, T)
    assert (X.sum(axis=-1) == 1).all()  # one-hot
    inputs = X.argmax(axis=-1)
    blank, go = K, K + 1
    assert (inputs[:, :S] < K).all()
    assert (inputs[:, S : S + delay - 1] == blank).all()
    assert (inputs[:, S + delay - 1] == go).all()
    assert (inputs[:, S + delay :] == blank).all()
    np.testing.assert_array_equal(targets[:, S + delay :], inputs[:, :S])  # recall
    assert (targets[:, : S + delay] == blank).all()
    assert mask[:, S + delay :].all() and not mask[:, : S + delay].any()


def test_copy_task_smallest_case():
    X, targets, mask = data.copy_task(1, 1, 1, n_symbols=2, rng=0)
    assert X.shape == (1, 3, 4)
    assert X[0, 1].argmax() == 3  # the go marker right after the symbol
    assert targets[0, 2] == X[0, 0].argmax() and mask[0].tolist() == [False, False, True]


# ---------------------------------------------------------------------------------------
# Reber grammars, checked with an acceptor written independently of rnnlib
# ---------------------------------------------------------------------------------------

# Reber's grammar as a regular expression, derived by hand from its automaton: after "BT"
# come S* X then the X-node part; after "BP" come T* V then the V-node part, where the
# X-node part is (X T* V P)* (S | X T* V V) and the V-node part is V | P (X-node part).
_X_NODE = r"(?:XT*VP)*(?:S|XT*VV)"
REBER = re.compile(rf"B(?:TS*X{_X_NODE}|PT*V(?:V|P{_X_NODE}))E")
EMBEDDED_REBER = re.compile(rf"B([TP]){REBER.pattern}\1E")


def test_acceptor_itself_on_known_strings():
    for good in ["BTXSE", "BPVVE", "BTSSXXTVVE", "BPTVPXVVE", "BTXXVPSE"]:
        assert REBER.fullmatch(good), good
    for bad in ["BTSE", "BPVE", "BTXXE", "BTSSXSSE", "TXSE", "BTXS"]:
        assert not REBER.fullmatch(bad), bad
    assert EMBEDDED_REBER.fullmatch("BTBPVVETE") and not EMBEDDED_REBER.fullmatch("BTBPVVEPE")


def test_reber_generator_only_makes_grammatical_strings():
    rng = np.random.default_rng(0)
    strings = [data.reber_string(rng) for _ in range(2000)]
    assert all(REBER.fullmatch(s) for s in strings)
    assert set("".join(strings)) == set(data.REBER_SYMBOLS)
    assert min(len(s) for s in strings) == 5  # BTXSE and BPVVE are the shortest
    # Each edge is taken with probability 1/2: the second symbol is T half of the time.
    assert np.mean([s[1] == "T" for s in strings]) == pytest.approx(0.5, abs=0.04)


def test_embedded_reber_generator_only_makes_grammatical_strings():
    rng = np.random.default_rng(1)
    strings = [data.embedded_reber_string(rng) for _ in range(2000)]
    assert all(EMBEDDED_REBER.fullmatch(s) for s in strings)
    assert np.mean([s[1] == "T" for s in strings]) == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("embedded", [False, True], ids=["reber", "embedded"])
def test_legal_sets_are_exactly_the_continuations_seen(embedded):
    # Every legal symbol must be a symbol that some string really continues with after the
    # same prefix, and vice versa: collect continuations from many strings and compare.
    rng = np.random.default_rng(2)
    make = data.embedded_reber_string if embedded else data.reber_string
    seen, legal_of = defaultdict(set), {}
    for _ in range(3000):
        s = make(rng)
        legal = data.reber_legal_next(s, embedded=embedded)
        for t in range(len(s) - 1):
            prefix = s[: t + 1]
            seen[prefix].add(s[t + 1])
            legal_of[prefix] = {data.REBER_SYMBOLS[k] for k in np.flatnonzero(legal[t])}
    counts = defaultdict(int)
    for prefix in seen:
        counts[len(prefix)] += 1
    checked = 0
    for prefix, symbols in seen.items():
        assert symbols <= legal_of[prefix]
        if len(prefix) <= 6:  # short prefixes are seen often enough to show every branch
            assert symbols == legal_of[prefix], prefix
            checked += 1
    assert checked > 10


def test_legal_next_on_a_known_string():
    legal = data.reber_legal_next("BTBPVVETE")
    as_sets = ["".join(data.REBER_SYMBOLS[k] for k in np.flatnonzero(row)) for row in legal]
    assert as_sets == ["TP", "B", "TP", "TV", "PV", "E", "T", "E"]


def test_legal_next_rejects_ungrammatical_strings():
    with pytest.raises(ValueError, match=r"symbol 'V' is not allowed here .* \(allowed: S, X\)"):
        data.reber_legal_next("BTVE", embedded=False)
    with pytest.raises(ValueError, match="symbol 'P' is not allowed"):
        data.reber_legal_next("BTBPVVEPE")
    with pytest.raises(ValueError, match="stops before the grammar's final 'E'"):
        data.reber_legal_next("BTBPVV")


def test_embedded_reber_batch():
    batch = data.embedded_reber(16, rng=3)
    N, T, V = batch.X.shape
    assert (N, V) == (16, 7) and batch.legal.shape == (N, T, 7)
    assert T == max(len(s) for s in batch.strings) - 1
    for n, s in enumerate(batch.strings):
        L = len(s) - 1
        assert EMBEDDED_REBER.fullmatch(s)
        assert batch.mask[n].sum() == L and batch.mask[n, :L].all()
        assert "".join(data.REBER_SYMBOLS[k] for k in batch.X[n, :L].argmax(-1)) == s[:-1]
        assert "".join(data.REBER_SYMBOLS[k] for k in batch.targets[n, :L]) == s[1:]
        assert (batch.X[n, L:] == 0).all() and (batch.targets[n, L:] == -1).all()
        assert batch.legal[n, np.arange(L), batch.targets[n, :L]].all()  # next is legal


def test_reber_stream_concatenates_strings_without_resets():
    batch = data.reber_stream(3, 200, rng=4)
    assert batch.X.shape == (3, 200, 7) and batch.mask.all()
    for n, stream in enumerate(batch.strings):
        assert len(stream) == 201
        complete = re.findall(r"B[TP]B.*?E[TP]E", stream)
        whole = "".join(complete)
        assert stream.startswith(whole) and len(whole) > 150
        assert all(EMBEDDED_REBER.fullmatch(s) for s in complete)
        # After every final E (one followed by B), B is the only legal symbol.
        for t in range(200):
            if stream[t] == "E" and stream[t - 1] in "TP" and stream[t - 2] == "E":
                assert batch.legal[n, t].tolist() == [True] + [False] * 6
        assert batch.legal[n, np.arange(200), batch.targets[n]].all()


def test_step_correct_criterion():
    legal = np.array([[[1, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]]], dtype=bool)  # (1, 2, 7)
    good = np.where(legal, 0.4, 0.1)
    assert data.reber_step_correct(good, legal).all()
    bad = good.copy()
    bad[0, 0, 3] = 0.45  # an illegal symbol beats a legal one
    np.testing.assert_array_equal(data.reber_step_correct(bad, legal), [[False, True]])
    with pytest.raises(ValueError, match=r"outputs: expected shape \(N, T, 7\)"):
        data.reber_step_correct(good[..., :6], legal)


# ---------------------------------------------------------------------------------------
# Character text
# ---------------------------------------------------------------------------------------


def test_corpus_is_the_projects_own_ascii_text():
    assert "seasons" in data.available_corpora()
    corpus = data.char_corpus()
    assert 20_000 <= len(corpus.text) <= 40_000
    assert corpus.text.isascii()
    assert corpus.vocab == "".join(sorted(set(corpus.text)))
    assert corpus.vocab_size == len(corpus.vocab) < 80


def test_encode_decode_round_trip():
    corpus = data.char_corpus()
    piece = corpus.text[1000:1300]
    ids = corpus.encode(piece)
    assert ids.dtype == np.int64 and ids.shape == (300,)
    assert corpus.decode(ids) == piece
    np.testing.assert_array_equal(corpus.ids[1000:1300], ids)
    assert corpus.one_hot(ids).shape == (300, corpus.vocab_size)


def test_lowercase_corpus_has_a_smaller_vocabulary():
    assert data.char_corpus(lowercase=True).vocab_size < data.char_corpus().vocab_size


def test_batches_are_windows_with_next_character_targets():
    corpus = data.char_corpus(valid_fraction=0.1)
    X, targets = corpus.batch(6, 25, rng=0)
    assert X.shape == (6, 25, corpus.vocab_size) and targets.shape == (6, 25)
    inputs = X.argmax(axis=-1)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    for row_in, row_target in zip(inputs, targets, strict=True):
        window = corpus.decode(np.concatenate([row_in, row_target[-1:]]))
        assert window in corpus.text[: corpus.n_train]
    valid_X, _ = corpus.batch(6, 25, rng=0, split="valid")
    for row in valid_X.argmax(axis=-1):
        assert corpus.decode(row) in corpus.text[corpus.n_train :]
    assert corpus.n_train == len(corpus.text) - round(0.1 * len(corpus.text))


def test_corpus_errors():
    corpus = data.char_corpus()
    with pytest.raises(ValueError, match="name: expected one of"):
        data.char_corpus("shakespeare")
    with pytest.raises(ValueError, match="characters not in the vocabulary"):
        corpus.encode("caf\u00e9")
    with pytest.raises(ValueError, match="split: expected 'train' or 'valid'"):
        corpus.batch(2, 5, split="test")
    with pytest.raises(ValueError, match="seq_len: expected at most"):
        corpus.batch(2, 10**6)
    with pytest.raises(ValueError, match=r"ids: expected values in \[0, "):
        corpus.decode([corpus.vocab_size])


# ---------------------------------------------------------------------------------------
# Reber experiments: whole strings, distinct sets, long-lag steps, stream positions
# ---------------------------------------------------------------------------------------


def test_reber_strings_correct_needs_every_unmasked_step():
    batch = data.reber_batch(["BTBTXSETE", "BPBPVVEPE", "BTBPVVETE"])
    outputs = batch.legal.astype(float)  # (N, T, 7): exactly the legal set is most active
    np.testing.assert_array_equal(data.reber_strings_correct(outputs, batch), [1, 1, 1])
    spoiled = outputs.copy()
    spoiled[1, 2] = 1 - spoiled[1, 2]  # one wrong step in string 1
    np.testing.assert_array_equal(data.reber_strings_correct(spoiled, batch), [1, 0, 1])
    # steps beyond a string's end (mask False) never count
    longer = data.reber_batch(["BTBTXSETE", "BPBPVVEPE", "BTBTXXVVETE"])
    garbage = longer.legal.astype(float)
    short = ~longer.mask[0]
    garbage[0][short] = np.arange(7.0)
    assert short.any()
    assert data.reber_strings_correct(garbage, longer).all()
    with pytest.raises(ValueError, match="batch"):
        data.reber_strings_correct(outputs, (batch.X, batch.legal))
    with pytest.raises(ValueError, match="outputs"):
        data.reber_strings_correct(outputs[..., :6], batch)


def test_reber_train_test_sets_are_distinct_and_encoded():
    train, test = data.reber_train_test_sets(20, 15, rng=0)
    assert len(train.strings) == 20 and len(test.strings) == 15
    assert len(set(train.strings)) == 20 and len(set(test.strings)) == 15
    assert not set(train.strings) & set(test.strings)
    assert train.X.shape[0] == 20 and train.X.shape[2] == len(data.REBER_SYMBOLS)
    again, _ = data.reber_train_test_sets(20, 15, rng=0)
    assert again.strings == train.strings
    with pytest.raises(ValueError, match="n_test"):
        data.reber_train_test_sets(4, 0)


def test_long_lag_steps_mark_one_step_per_complete_string():
    batch = data.reber_batch(["BTBTXSETE", "BPBPVVEPE"])
    marked = data.long_lag_steps(batch)
    # the step reading the inner E (index 6), whose next symbol repeats the branch symbol
    assert marked.sum(axis=1).tolist() == [1, 1]
    assert marked[0, 6] and marked[1, 6]


def test_stream_positions_count_within_each_string():
    batch = data.reber_batch(["BTBTXSETEBPBPVVEPEB"], continual=True)
    position, branch = data.stream_positions(batch)
    assert position[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert "".join(branch[0]) == "?TTTTTTTT?PPPPPPPP"


def test_reber_stream_entropy_from_the_grammar():
    assert data.reber_stream_entropy() == pytest.approx(7 * np.log(2) / 12, rel=1e-12)
    assert data.reber_stream_entropy(remember_branch=False) == pytest.approx(
        8 * np.log(2) / 12, rel=1e-12)
    # The same from sampled strings: choices (all symbols but B, E and the forced closing
    # symbol and final E, i.e. length - 3) over symbols.
    rng = np.random.default_rng(0)
    strings = [data.embedded_reber_string(rng) for _ in range(20_000)]
    symbols = sum(len(s) for s in strings)
    choices = sum(len(s) - 5 for s in strings)  # B, inner B, inner E, closing, final E forced
    assert choices * np.log(2) / symbols == pytest.approx(data.reber_stream_entropy(), rel=0.01)
    with pytest.raises(ValueError, match="remember_branch"):
        data.reber_stream_entropy(remember_branch="yes")


def test_reber_branch_lags_are_the_inner_lengths():
    batch = data.reber_batch(["BTBTXSETE", "BPBTSSXSEPE", "BTBPVVETE"])
    assert data.reber_branch_lags(batch).tolist() == [5, 7, 5]
    train, _ = data.reber_train_test_sets(50, 10, rng=1)
    assert np.array_equal(data.reber_branch_lags(train),
                          [len(s) - 4 for s in train.strings])
    with pytest.raises(ValueError, match="long-lag steps"):
        data.reber_branch_lags(data.reber_stream(2, 60, rng=0))
    with pytest.raises(ValueError, match="ReberBatch"):
        data.reber_branch_lags("BTBTXSETE")
