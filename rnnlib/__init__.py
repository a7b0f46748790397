"""rnnlib: recurrent neural networks in NumPy, written to be read alongside the book.

**Reading order** (the modules the chapters derive, in the order the book meets them):

- ``activations``  numerically stable sigmoid, tanh, softmax and their derivatives
- ``rnn``          the basic (Elman) RNN: step and sequence forward/backward
- ``lstm``         the LSTM, with or without the forget gate
- ``gru``          the GRU in the memo's (Cho et al.'s reset gate) and PyTorch's conventions
- ``layers``       the registry of cells ``CELLS``, dense output layer, stacked and
  bidirectional layers
- ``model``        ``SequenceModel``: recurrent layers and an output layer, its loss and
  gradients, sampling
- ``losses``       mean squared error and softmax cross-entropy over sequences
- ``optim``        SGD with momentum, Adam, global-norm gradient clipping
- ``gradcheck``    centred finite-difference gradient checks
- ``attention``    additive (Bahdanau) and multiplicative (Luong) attention, with a
  source mask
- ``seq2seq``      the RNN encoder-decoder with or without attention: encoder, decoder
  step, loss and gradients under teacher forcing, greedy decoding, beam search
- ``sampling``     temperature and top-k decoding, free running, scheduled sampling
- ``tbptt``        truncated backpropagation through time: the truncated gradient, the
  echo task with a known lag, time and memory
- ``ngram``        nats, bits per character, perplexity, and n-gram baselines
- ``scan``         the linear recurrence h_t = a_t h_{t-1} + b_t by a loop and by parallel
  and log-space scans, each with its backward
- ``mingru``       minGRU and minLSTM (Feng et al. 2024): gates that read the input only

**Tools around them** (used by the chapters; not part of the reading):

- ``fast``         the cells' sequence functions arranged for speed, same interface and
  results (training and the benchmark use them; ``book/performance.ipynb`` explains them)
- ``data``         sequence tasks generated on the fly and the course's own text
- ``seq2seq_data`` the digit-reversal task of the attention chapter and its vocabulary
- ``train``        a small fit loop with history and a progress bar
- ``init``         recurrent weights set to orthogonal or identity blocks, the LSTM's
  forget-gate bias, the blocks' spectral radii
- ``masking``      padded batches of sequences of different lengths: masks, the last
  valid step, sorting by length
- ``regularize``   dropout masks fixed over time, weight decay
- ``analysis``     measurements on trained cells (gradients by lag, spectral radius, ...)
- ``interop``      weights to and from ``torch.nn.RNN``, ``LSTM`` and ``GRU``
- ``plots``, ``widgets``  figures and interactive figures
- ``checks``       the exercises' automatic checks (instructor machinery)
- ``_validate``    argument checks shared by every public function: in each cell function
  the lines before the first equation only check the arguments
- ``source``       ``show_source``, which shows this library's code in the book
- ``provenance``   what a committed result records about the code and the machine that
  made it, and whether that code is the code running now
- ``numerics``     the threads and CPU kernels under which training runs repeat to the
  last bit on any machine

Dimension letters everywhere: N batch, T time, D input, H hidden, V output/vocabulary.
Sequences are batch first, ``(N, T, D)``.
"""

from rnnlib.source import show_source

__version__ = "0.1.0"
__all__ = ["show_source", "__version__"]
