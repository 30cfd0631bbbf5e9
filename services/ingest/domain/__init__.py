"""Ingest's pure logic: what an article is and its identity, and how a batch is answered."""
