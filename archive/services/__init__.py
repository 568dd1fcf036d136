"""Service layer: plain functions whose collaborators (session, store, index, clock) are passed in."""
