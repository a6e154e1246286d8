"""Pure logic of the translate service: no I/O, unit-tested."""
