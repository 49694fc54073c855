//! Domain tests (filled below).
