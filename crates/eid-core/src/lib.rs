//! eid-core: the domain of the eID service.
