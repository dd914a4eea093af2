//! Turns validated settings into a run and an exit code.
