"""Full-text indexing: the ``SearchIndex`` port, Chinese analysis, the Whoosh adapter, the queue."""
