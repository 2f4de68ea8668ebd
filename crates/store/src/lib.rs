//! Persistence behind one trait.
