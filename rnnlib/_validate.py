"""Input validation shared by every public rnnlib function.

A wrong shape deep inside a matrix product gives an error such as "matmul: Input operand 1
has a mismatch in its core dimension 0", which says nothing about which argument was wrong.
The helpers here check arguments on the way in and raise a ``ValueError`` that names the
argument, the shape that was expected (with its dimension letters) and the shape received::

    X: expected shape (N, T, D) = (*, *, 3), got (4, 7, 5)

A ``*`` stands for a dimension that may take any size. NaN and inf are rejected too, with
the index of the first bad entry, because one NaN silently spreads through every later time
step and every gradient::

    X contains NaN or inf (first at index (0, 2, 1))

Dimension letters: N batch, T time, D input, H hidden, V output.
"""

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "check_array",
    "check_cache",
    "check_finite",
    "check_params",
    "check_number",
    "check_positive_int",
    "format_shape",
    "hidden_size_of",
    "resolve_dtype",
    "resolve_rng",
]

#: The floating-point dtypes every rnnlib function accepts.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def format_shape(shape, dims=None):
    """Write an expected shape for an error message.

    Parameters
    ----------
    shape : tuple of (int or None)
        Expected sizes; ``None`` means any size and prints as ``*``.
    dims : str, optional
        Dimension letters such as ``"N, T, D"``; when given the result reads
        ``(N, T, D) = (*, *, 3)``.

    Returns
    -------
    str
    """
    sizes = "(" + ", ".join("*" if s is None else str(s) for s in shape)
    sizes += ",)" if len(shape) == 1 else ")"
    if dims is None:
        return sizes
    letters = f"({dims},)" if len(shape) == 1 else f"({dims})"
    return f"{letters} = {sizes}"


def check_finite(name, a):
    """Raise ``ValueError`` if the array ``a`` holds a NaN or an infinity.

    Parameters
    ----------
    name : str
        The argument's name, used in the message.
    a : numpy.ndarray
        Any shape.

    Raises
    ------
    ValueError
        ``"<name> contains NaN or inf (first at index (i, j, ...))"``.
    """
    finite = np.isfinite(a)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {first})")


def check_array(
    name, a, ndim=None, shape=None, dtype=None, *, dims=None, finite=True, nonempty=False
):
    """Check one array argument and return it.

    Parameters
    ----------
    name : str
        The argument's name as the caller knows it (``"X"``, ``"params['W']"``).
    a : numpy.ndarray
        The argument. It must already be a NumPy array of float32 or float64; rnnlib never
        converts silently, because a silent copy to another dtype hides mistakes.
    ndim : int, optional
        Required number of dimensions (implied by ``shape`` when that is given).
    shape : tuple of (int or None), optional
        Required sizes; ``None`` entries accept any size.
    dtype : numpy.dtype, optional
        Required dtype, usually the dtype of the first array argument so that all arguments
        agree. When omitted, any of :data:`FLOAT_DTYPES` is accepted.
    dims : str, optional
        Dimension letters for the message, e.g. ``"N, T, D"``.
    finite : bool, default True
        Also reject NaN and inf.
    nonempty : bool, default False
        Also reject a dimension of size 0 (a batch of no sequences, a sequence of no steps):
        the cells need at least one of each to have a final state.

    Returns
    -------
    numpy.ndarray
        ``a`` itself (never a copy).

    Raises
    ------
    ValueError
        If ``a`` is not an array, has the wrong number of dimensions, the wrong shape, a
        dtype other than float32/float64 or other than ``dtype``, is empty along a
        dimension (with ``nonempty``), or holds NaN/inf.
    """
    expected = "" if dims is None else f" of shape ({dims})"
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name}: expected a NumPy array{expected}, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise ValueError(
            f"{name}: expected dtype {np.dtype(dtype)} like the other arrays of this call, "
            f"got {a.dtype}"
        )
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and a.ndim != ndim:
        wanted = format_shape(shape, dims) if shape is not None else expected.strip()
        raise ValueError(
            f"{name}: expected a {ndim}-d array {wanted}".rstrip()
            + f", got a {a.ndim}-d array of shape {a.shape}"
        )
    if shape is not None and any(
        s is not None and s != got for s, got in zip(shape, a.shape, strict=True)
    ):
        raise ValueError(f"{name}: expected shape {format_shape(shape, dims)}, got {a.shape}")
    if nonempty and 0 in a.shape:
        letters = "" if dims is None else f" ({dims})"
        raise ValueError(
            f"{name}: expected at least one entry along every dimension{letters}, "
            f"got shape {a.shape}"
        )
    if finite:
        check_finite(name, a)
    return a


def check_cache(cache, made_by, keys):
    """Check that ``cache`` is what the forward function ``made_by`` returned.

    Every forward function of rnnlib records its own name in its cache under ``"made_by"``,
    so that a backward function given the cache of another cell, of a step function or of
    the fast path says so instead of failing on a missing key deep inside.

    Parameters
    ----------
    cache : dict
        The argument passed to a backward function.
    made_by : str
        The forward function whose cache is expected, e.g. ``"rnnlib.lstm.forward"``.
    keys : iterable of str
        The entries the backward function reads.

    Returns
    -------
    dict
        ``cache`` itself.

    Raises
    ------
    ValueError
        If ``cache`` is not a dict, was made by another function, or lacks one of ``keys``.
    """
    if not isinstance(cache, dict):
        raise ValueError(
            f"cache: expected the dict returned by {made_by}, got {type(cache).__name__}"
        )
    origin = cache.get("made_by")
    if origin != made_by:
        got = "a dict without that record" if origin is None else f"the cache of {origin}"
        raise ValueError(f"cache: expected the cache returned by {made_by}, got {got}")
    missing = [key for key in keys if key not in cache]
    if missing:
        raise ValueError(
            f"cache: the cache of {made_by} lacks {', '.join(repr(k) for k in missing)}; "
            "pass the cache exactly as the forward function returned it"
        )
    return cache


def check_params(params, expected, dtype, *, hint=""):
    """Check a parameter dict against the shapes a cell expects.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        The parameters passed by the caller.
    expected : dict of str to (tuple, str)
        For every required key, its shape (as in :func:`check_array`) and dimension letters,
        e.g. ``{"W": ((5, 12), "D+H, 4H"), "b": ((12,), "4H")}``.
    dtype : numpy.dtype
        The dtype every parameter must have (that of the inputs).
    hint : str, optional
        Appended to a message about a missing or extra key, e.g. to point at an option such
        as ``convention="pytorch"`` that would explain the keys received.

    Returns
    -------
    dict
        ``params`` itself.

    Raises
    ------
    ValueError
        On a missing or unexpected key, a wrong shape or dtype, or NaN/inf.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(repr(k) for k in missing))
        if extra:
            parts.append("unexpected " + ", ".join(repr(k) for k in extra))
        keys = ", ".join(repr(k) for k in expected)
        raise ValueError(
            f"params: expected keys {keys}; {'; '.join(parts)}" + (f". {hint}" if hint else "")
        )
    for key, (shape, dims) in expected.items():
        check_array(f"params[{key!r}]", params[key], shape=shape, dtype=dtype, dims=dims)
    return params


def hidden_size_of(params, D, blocks, source="X", alternatives=()):
    """Read the hidden size H off a cell's weight ``params["W"]``, given the input size D.

    Every cell's weight has shape ``(D + H, G*H)``: D input rows then H recurrent rows, and
    G column blocks (one per gate) of width H. The inputs fix D, so H is the rest of the
    rows, and the columns must then be G*H.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        Must hold a 2-d float array ``"W"``.
    D : int
        Input size, from the input array.
    blocks : tuple of str
        The column blocks, e.g. ``("f", "i", "a", "o")``; G is its length.
    source : str, default "X"
        Name of the input argument D was read from, for the message.
    alternatives : sequence of (tuple of str, str)
        Other block layouts that an option of the cell would select, each with the advice to
        give when ``W`` fits it instead, e.g. ``(("i", "a", "o"), "pass forget_gate=False")``.

    Returns
    -------
    H : int

    Raises
    ------
    ValueError
        If ``params`` is not a dict, lacks ``"W"``, or ``W`` does not have the shape
        ``(D + H, G*H)`` for any H >= 1.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    if "W" not in params:
        raise ValueError(f"params: missing key 'W' (got keys {sorted(params)})")
    G = len(blocks)
    dims = "D+H, H" if G == 1 else f"D+H, {G}H"
    W = check_array("params['W']", params["W"], ndim=2, dims=dims, finite=False)
    rows, cols = W.shape
    H = rows - D
    if H >= 1 and cols == G * H:
        return H
    for other, advice in alternatives:
        if H >= 1 and cols == len(other) * H:
            raise ValueError(
                f"params['W']: expected shape ({dims}) = ({rows}, {G * H}) for D = {D} "
                f"(from {source}) and blocks {', '.join(blocks)}, got {W.shape}, which fits "
                f"blocks {', '.join(other)}: {advice}"
            )
    H_w = cols // G  # the hidden size the weight's columns imply
    if cols % G == 0 and H_w >= 1 and rows - H_w >= 1:
        # W is a consistent weight on its own, so the input is the likelier culprit.
        raise ValueError(
            f"{source}: expected input size D = {rows - H_w} to fit params['W'] of shape "
            f"{W.shape} = ({dims}) with H = {H_w}, got D = {D}"
        )
    if H < 1:
        raise ValueError(
            f"params['W']: expected shape ({dims}) with D = {D} (from {source}) and H >= 1, "
            f"so more than {D} rows, got {W.shape}"
        )
    raise ValueError(
        f"params['W']: expected shape ({dims}) = ({rows}, {G * H}) for D = {D} (from "
        f"{source}) and H = {H} (the remaining rows), blocks {', '.join(blocks)}, "
        f"got {W.shape}"
    )


def check_positive_int(name, value):
    """Raise ``ValueError`` unless ``value`` is an integer >= 1; return it as ``int``.

    Parameters
    ----------
    name : str
        The argument's name.
    value : int
        The value to check (Python or NumPy integer; ``bool`` is refused).

    Returns
    -------
    int
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_number(name, value, *, low=None, high=None, low_open=True, high_open=True):
    """Raise ``ValueError`` unless ``value`` is a finite real number in the given range.

    A hyperparameter given as a string (``"0.01"``), None, a bool or an array is refused
    with a message that names it, instead of a ``TypeError`` from deep inside NumPy.

    Parameters
    ----------
    name : str
        The argument's name.
    value : int or float
        The value to check (Python or NumPy scalar).
    low, high : float, optional
        Bounds of the accepted range; None for no bound.
    low_open, high_open : bool, default True
        Whether the bound itself is excluded.

    Returns
    -------
    float
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                       np.floating)):
        raise ValueError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open else '['}{left}, {right}{')' if high_open else ']'}"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return float(value)


def resolve_dtype(dtype):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``ValueError``.

    Parameters
    ----------
    dtype : numpy dtype-like
        For example ``np.float32``, ``"float64"``.

    Returns
    -------
    numpy.dtype
    """
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}") from err
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected float32 or float64, got {resolved}")
    return resolved


def resolve_rng(rng):
    """Turn ``rng`` into a ``numpy.random.Generator``.

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        A generator is used as is; an int is a seed; None draws fresh entropy.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(
        f"rng: expected a numpy.random.Generator, an int seed or None, got {type(rng).__name__}"
    )
