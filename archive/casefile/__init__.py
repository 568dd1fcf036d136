"""The case file as one thing: the BagIt bundle, the binder PDF (cover, 卷内目录, documents) and
the PDF machinery they need. Case pages, reviews (``archive.sampling``) and complaint handling
all use it; it depends on none of them."""
