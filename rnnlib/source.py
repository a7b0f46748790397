"""Show rnnlib's own source in a notebook, so the book never keeps a copy of it."""

import inspect

__all__ = ["show_source"]


def show_source(obj):
    """Display the source of an rnnlib function or class as highlighted code.

    Parameters
    ----------
    obj : function, class or module
        Anything ``inspect.getsource`` accepts.

    Returns
    -------
    IPython.display.Code or str
        A ``Code`` object in IPython (rendered with syntax highlighting in JupyterLab and in
        the HTML book), the plain source text elsewhere.
    """
    text = inspect.getsource(obj)
    try:
        from IPython.display import Code
    except ImportError:  # plain Python: the text itself is the most useful thing
        return text
    return Code(text, language="python")
