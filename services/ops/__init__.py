"""Operations: the local runner, and (later) the ops CLI."""
