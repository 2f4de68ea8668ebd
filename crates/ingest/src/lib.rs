//! Parsers from every supported input format into canonical events.
