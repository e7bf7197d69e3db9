"""Generation: request and sampling types, the generator protocol and factory, the cache, backends."""
