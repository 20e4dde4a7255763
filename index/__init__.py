"""Loading, cleaning, metadata, chunking, embedding and storing of articles."""
