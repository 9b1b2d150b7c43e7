#!/usr/bin/env python3
"""A paychan payer over the node's gRPC API, in Python: opens a channel to a peer, pays it
while watching the node's event stream, shows what a refused call looks like, and closes.

The client code is generated from the committed proto/ at start (grpcio-tools' protoc), so
the script needs no generated files of its own. The node serves gRPC when its config.toml
has `grpc_listen = "127.0.0.1:PORT"` under [rpc].

    pip install grpcio==1.85.1 grpcio-tools==1.85.1
    python3 examples/grpc_client.py 127.0.0.1:6337 ~/.paychan/rpc.token \\
        BOB_ADDRESS@127.0.0.1:6345 1000 5 '{"question": "weather?"}'

It prints one JSON object: the channel, the peer's response, the payment event and the
refusal, and the channel after its cooperative close.
"""
import json
import os
import queue
import sys
import tempfile
import threading

import grpc
from grpc_tools import protoc

PROTO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto")


def load_stubs():
    """Generates the Python messages and stubs of proto/paychan/v1/node.proto and imports them."""
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    with tempfile.TemporaryDirectory(prefix="paychan-grpc-") as out:
        status = protoc.main([
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(PROTO_ROOT, "paychan", "v1", "node.proto"),
        ])
        if status != 0:
            sys.exit(f"protoc failed on {PROTO_ROOT}")
        sys.path.insert(0, out)
        try:
            from paychan.v1 import node_pb2, node_pb2_grpc  # generated just now
        finally:
            sys.path.remove(out)
    return node_pb2, node_pb2_grpc


def paychan_code(error):
    """The paychan error code a refused call carries in its trailing metadata."""
    for key, value in error.trailing_metadata() or ():
        if key == "paychan-code":
            return int(value)
    return None


def main(target, token_file, peer, deposit, amount, message):
    pb, rpc = load_stubs()
    token = open(token_file).read().strip()
    auth = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(target) as channel:
        node = rpc.NodeStub(channel)
        info = node.NodeInfo(pb.NodeInfoRequest(), metadata=auth)

        # The event stream, read by a thread; listening starts before the call returns.
        events = node.SubscribeEvents(pb.SubscribeEventsRequest(), metadata=auth)
        seen = queue.Queue()

        def read_events():
            try:
                for e in events:
                    seen.put(e)
            except grpc.RpcError:
                pass  # cancelled below, once the script is done with it

        threading.Thread(target=read_events, daemon=True).start()

        opened = node.OpenChannel(pb.OpenChannelRequest(peer=peer, deposit=deposit), metadata=auth)
        paid = node.Pay(
            pb.PayRequest(channel_id=opened.channel_id, amount=amount, message_json=message),
            metadata=auth,
        )
        while True:
            event = seen.get(timeout=30)
            if event.event == "payment_sent" and event.channel_id == opened.channel_id:
                break

        try:
            node.Pay(pb.PayRequest(channel_id=opened.channel_id, amount="-5"), metadata=auth)
            sys.exit("a negative amount was accepted")
        except grpc.RpcError as error:
            refusal = {
                "code": error.code().name,
                "paychan_code": paychan_code(error),
                "message": error.details(),
            }

        closed = node.Close(pb.CloseRequest(channel_id=opened.channel_id), metadata=auth)
        events.cancel()
        print(json.dumps({
            "address": info.address,
            "channel_id": opened.channel_id,
            "opened_status": opened.status,
            "response": json.loads(paid.response_json),
            "event": json.loads(event.json),
            "refusal": refusal,
            "cooperative": closed.cooperative,
            "closed_status": closed.channel.status,
            "paid_by_me": closed.channel.balances.paid_by_me,
        }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:])
