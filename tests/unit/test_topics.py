from services.common.topics import ALL, Topics


def test_every_topic_has_a_dead_letter_topic_and_the_prefix() -> None:
    topics = Topics("run1.")
    names = dict(topics.specs_with_dlq())
    for spec in ALL:
        assert f"run1.{spec.name}" in names
        assert f"run1.{spec.name}.dlq" in names
    assert topics.source_of_dlq("run1.notices.v1.dlq") == "run1.notices.v1"
    assert topics.deliveries_planned == "run1.deliveries.planned.v1"
