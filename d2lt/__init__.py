"""d2lt: the helper package of the course "Transformers, from the RNN encoder-decoder
to pretrained language models".

Start every notebook with ``S = d2lt.setup()``; then import what a chapter needs::

    from d2lt import data, text, seq2seq, train, metrics, plot
"""
__version__ = "0.1.0"

from .core import Profile, Setup, device, profile, seed_everything, seeded, setup  # noqa: E402,F401
