"""The fast id functions agree with their references (contracts, pseudonym, aiokafka's partitioner)."""

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.common import pseudonym
from services.common.contracts import derived_id as reference_derived_id
from services.ingest.domain import ids

_CARD = st.from_regex(r"[A-Z]{2}[0-9]{8}[A-Z]{2}", fullmatch=True)


@given(st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_derived_id_is_the_contracts_uuid5(parts: list[str]) -> None:
    assert ids.derived_id(*parts) == str(reference_derived_id(*parts))


@given(_CARD, st.binary(min_size=1, max_size=100))
def test_worker_id_is_the_pseudonym_hmac(card: str, pepper: bytes) -> None:
    assert ids.worker_id(card, pepper) == pseudonym.worker_id(card, pepper)


def test_worker_id_of_a_spaced_or_full_width_number_goes_through_normalisation() -> None:
    pepper = b"p" * 32
    assert ids.worker_id("ab 1234 5678 cd", pepper) == ids.worker_id("AB12345678CD", pepper)
    assert ids.worker_id("ＡＢ１２３４５６７８ＣＤ", pepper) == ids.worker_id("AB12345678CD", pepper)


@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert ids.murmur2(data) == murmur2(data)


@given(st.binary(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_partitions_match_the_default_partitioner(key: bytes, partitions: int) -> None:
    everything = list(range(partitions))
    assert ids.partition_for(key, partitions) == DefaultPartitioner()(key, everything, everything)
