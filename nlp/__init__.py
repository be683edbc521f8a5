"""Pure text functions: passages, sentences, entities and the gazetteer."""
