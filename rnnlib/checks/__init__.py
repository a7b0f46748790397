"""Automatic checks for the book's exercises.

Each code exercise has one check here, named after the exercise (``rnn_step_forward``,
``lstm_step_backward``...). Call it with your function::

    from rnnlib import checks
    checks.rnn_step_forward(my_rnn_step_forward)

It runs your function on a few test cases, compares the answers with rnnlib's, and prints a
short verdict: what is wrong (shape, dtype, the first wrong entry) and, for the usual
mistakes, which one it looks like and how to fix it. It returns a result that is truthy only
when every case passed, and it never raises because of your code.

For authors: the checks of a chapter live in ``rnnlib/checks/<chapter>.py`` (``sequences``,
``rnn``, ``lstm``, ``gru``, ``multilayer``), built with the helpers of
:mod:`rnnlib.checks._core` (``run_check``, ``compare``, ``Case``, ``Mistake``,
``check_value``). A chapter adds its module by adding one explicit import line below,
``from rnnlib.checks.<chapter> import <check>, ...``, and the same names to ``__all__``;
imports are plain (no try/except), so a broken chapter module fails loudly at import time.
Tests go in ``tests/test_checks_<chapter>.py``.
"""

from rnnlib.checks._core import (
    Case,
    CheckFailed,
    CheckResult,
    Comparison,
    Mistake,
    check_value,
    compare,
    grading,
    run_check,
    score,
    use_graded_cases,
)
from rnnlib.checks.attention import (
    attention_additive_backward,
    attention_beam_search,
    attention_dot_product,
    attention_masked_softmax,
)
from rnnlib.checks.gru import (
    gru_no_reset_step,
    gru_parameter_count,
    gru_pytorch_to_cho,
    gru_step_forward,
    gru_update_gate_backward,
)
from rnnlib.checks.lstm import (
    lstm_coupled_step_forward,
    lstm_peephole_step_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from rnnlib.checks.mingru import (
    mingru_combine,
    mingru_hillis_steele,
    mingru_log_scan_backward,
    mingru_minlstm_step,
)
from rnnlib.checks.multilayer import (
    head_to_head_matched_hidden_size,
    multilayer_bidirectional_forward,
    multilayer_residual_stack_forward,
    multilayer_stack_backward,
    multilayer_stack_forward,
    performance_gemm_flops,
    performance_lstm_cache_bytes,
    performance_lstm_gate_activations,
    pytorch_lstm_from_torch,
)
from rnnlib.checks.rnn import (
    rnn_clip_by_value,
    rnn_clip_grad_norm,
    rnn_step_backward,
    rnn_step_forward,
    rnn_truncated_bptt,
    rnn_two_step_backward,
)
from rnnlib.checks.sequences import sequences_stack, sequences_unroll
from rnnlib.checks.training import (
    training_add_alpha_bigram,
    training_lag_signal_share,
    training_top_k,
)
from rnnlib.checks.training_setup import (
    training_setup_forget_bias,
    training_setup_last_valid,
    training_setup_length_mask,
)

__all__ = [
    # helpers for writing checks
    "Case",
    "CheckResult",
    "Comparison",
    "Mistake",
    "check_value",
    "compare",
    "run_check",
    # grading (the nbgrader edition's test cells)
    "CheckFailed",
    "grading",
    "score",
    "use_graded_cases",
    # sequences and recurrence
    "sequences_stack",
    "sequences_unroll",
    # the basic RNN
    "rnn_clip_by_value",
    "rnn_clip_grad_norm",
    "rnn_step_backward",
    "rnn_step_forward",
    "rnn_truncated_bptt",
    "rnn_two_step_backward",
    # the LSTM
    "lstm_coupled_step_forward",
    "lstm_peephole_step_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    # the GRU
    "gru_no_reset_step",
    "gru_parameter_count",
    "gru_pytorch_to_cho",
    "gru_step_forward",
    "gru_update_gate_backward",
    # going further: multilayer RNNs, the head-to-head comparison, PyTorch, performance
    "head_to_head_matched_hidden_size",
    "multilayer_bidirectional_forward",
    "multilayer_residual_stack_forward",
    "multilayer_stack_backward",
    "multilayer_stack_forward",
    "performance_gemm_flops",
    "performance_lstm_cache_bytes",
    "performance_lstm_gate_activations",
    "pytorch_lstm_from_torch",
    # training in practice: initialisation, variable-length batches, regularisation
    "training_setup_forget_bias",
    "training_setup_last_valid",
    "training_setup_length_mask",
    # the encoder-decoder and attention
    "attention_additive_backward",
    "attention_beam_search",
    "attention_dot_product",
    "attention_masked_softmax",
    # training in practice: teacher forcing, truncated BPTT, reading the loss
    "training_add_alpha_bigram",
    "training_lag_signal_share",
    "training_top_k",
    # going further: minGRU, minLSTM and the scan
    "mingru_combine",
    "mingru_hillis_steele",
    "mingru_log_scan_backward",
    "mingru_minlstm_step",
]
