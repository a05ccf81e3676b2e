async def test_batch_roundtrip(client, backend):
    events = [
        {
            "event_type": "course_viewed",
            "user_id": 1,
            "course_id": 2,
            "timestamp": "2026-03-01T10:00:00Z",
        },
    ]
    answer = await client.post("/v1/events/batch", json_body={"events": events})
    assert answer.status == 202, answer.body
    assert answer.json()["data"]["queued"] == 1
