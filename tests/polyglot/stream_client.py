"""pgqrs streams from Python, over the generated gRPC stubs.

Publishes COUNT messages on one Publish stream, all requests in flight at once, and checks
each is confirmed in order with its id. Then consumes them on one Consume stream that
grants CREDITS: each pushed message is acked by itself on the same stream, and the stream
never pushes more than CREDITS unacked messages. Half-closes once every ack is confirmed.

Usage: stream_client.py SERVER QUEUE COUNT CREDITS
Prints one summary line on stdout; exits non-zero on any violated expectation.
"""

import json
import queue
import sys

import grpc

from proto.pgqrs.v1 import common_pb2
from proto.pgqrs.v1 import queue_pb2 as q
from proto.pgqrs.v1 import queue_pb2_grpc as q_grpc


def publish(stub, name, count):
    requests = (q.PublishRequest(sequence=i, queue=name,
                                 messages=[q.NewMessage(payload_json=json.dumps({"i": i}))])
                for i in range(count))
    ids = []
    for i, response in enumerate(stub.Publish(requests)):
        assert response.sequence == i, response
        assert response.error_code == 0, response
        ids.append(response.message_ids[0])
    assert len(ids) == count, len(ids)
    return ids


def consume(stub, name, count, credits):
    outgoing = queue.Queue()  # what the request generator sends; None half-closes
    outgoing.put(q.ConsumeRequest(queue=name, add_credits=credits))

    def requests():
        while (request := outgoing.get()) is not None:
            yield request

    received, acks_sent, acks_confirmed, most_held = [], 0, 0, 0
    for response in stub.Consume(requests()):
        if response.messages:
            received.extend(response.messages)
            most_held = max(most_held, len(received) - acks_sent)
            assert most_held <= credits, f"{most_held} unacked with {credits} credits"
            for m in response.messages:
                outgoing.put(q.ConsumeRequest(request_id=m.id, ack_receipts=[m.receipt]))
                acks_sent += 1
            continue
        assert list(response.ack_results) == [common_pb2.RECEIPT_RESULT_OK], response
        acks_confirmed += 1
        if acks_confirmed == count:
            outgoing.put(None)
    return received, most_held


def main():
    server, name, count, credits = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with grpc.insecure_channel(server) as channel:
        stub = q_grpc.QueueServiceStub(channel)
        ids = publish(stub, name, count)
        received, most_held = consume(stub, name, count, credits)
    assert [m.id for m in received] == ids, "not delivered in publish order"
    assert [json.loads(m.payload_json)["i"] for m in received] == list(range(count))
    print(f"published {len(ids)}, consumed and acked {len(received)}, "
          f"at most {most_held} unacked with {credits} credits")


if __name__ == "__main__":
    main()
