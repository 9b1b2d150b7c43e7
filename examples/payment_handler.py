#!/usr/bin/env python3
"""A paychan payee's business logic in a few lines: answers the node's incoming payments.

It connects to the node's JSON-RPC WebSocket, subscribes as the payment handler
(`subscribe_payments`), and answers every `payment_request` with `answer_payment`: a
response that the payer receives, or an error (then the payment is not counted).

    pip install websockets==15.0.1
    python3 examples/payment_handler.py ws://127.0.0.1:6333 ~/.paychan/rpc.token
"""
import asyncio
import json
import sys

import websockets


def answer(request):
    """The service: charge 1 per character of the question, echo it back."""
    question = request["message"]
    if not isinstance(question, str):
        return {"error": "send a question as a string"}
    if int(request["amount"]) < len(question):
        return {"error": f"a question of {len(question)} characters costs {len(question)}"}
    return {"response": {"answer": question.upper(), "paid": request["amount"]}}


async def main(url, token_file):
    token = open(token_file).read().strip()
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "subscribe_payments"}))
        subscribed = json.loads(await ws.recv())
        if "error" in subscribed:
            sys.exit(f"cannot become the payment handler: {subscribed['error']['message']}")
        print("handling payments", flush=True)
        async for frame in ws:
            note = json.loads(frame)
            if note.get("method") != "payment_request":
                continue  # the results of our answer_payment calls
            request = note["params"]["result"]
            params = {"request_id": request["request_id"], **answer(request)}
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["request_id"],
                                      "method": "answer_payment", "params": params}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
