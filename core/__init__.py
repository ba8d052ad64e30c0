"""Latentboard's library: data sources, autoencoders, training, runs, embeddings and evaluation.

Nothing in here imports streamlit; the dashboard is one consumer among the CLI and the tests.
"""

__version__ = "0.1.0"
