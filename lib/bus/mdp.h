/*  mdp.h — constants of 7/MDP (MDP/0.1) and 8/MMI, our one extension to
    7/MDP (worker credit), and our bus limits.

    Frames on the broker's ROUTER (routing id first, added by ZeroMQ):
      client  REQUEST  [id][""]["MDPC01"][service][body]
      broker  REPLY    [id][""]["MDPC01"][service][body]
      worker  READY    [id][""]["MDPW01"][0x01][service]            (RFC)
      worker  READY    [id][""]["MDPW01"][0x01][service][credit]    (credit)
      broker  REQUEST  [id][""]["MDPW01"][0x02][address][""][body]
      worker  REPLY    [id][""]["MDPW01"][0x03][address][""][body]
      either  HEARTBEAT[id][""]["MDPW01"][0x04]
      either  DISCONNECT[id][""]["MDPW01"][0x05]
    Our bodies are exactly one frame: a packed en.Request or en.Reply.

    Worker credit (our extension; everything else is 7/MDP as written).

    Why. 7/MDP lets a worker connection hold one request: the broker sends
    the next only after the reply. On the broker → worker leg every call
    then pays its own TCP send and receive each way and its own thread
    wake-ups, nothing there can batch, and on our 2-vCPU machines that
    capped pipelined throughput at 0.15x of a bare DEALER/ROUTER echo no
    matter how the per-message code was tuned (BENCHMARKS.md). With credit
    the broker hands one connection several requests at once: they travel
    in one TCP segment, the worker reads them in one wake-up and answers
    them back to back.

    What.
      - READY may carry a fifth frame, the worker's credit K: how many
        requests this connection may hold at once. It is 1 to 4 ASCII
        decimal digits with a value of at least 1 ("16"). A broker grants
        at most EN_MDP_CREDIT_MAX and silently cuts a larger K to that; a
        worker must handle whatever number up to its K it is sent. A READY
        without the frame is a plain 7/MDP worker: credit 1. A credit frame
        that is not such digits, or a READY with more frames, is a
        malformed READY: the broker answers DISCONNECT.
      - The broker sends a worker with credit K a REQUEST whenever it holds
        fewer than K, and tracks every request it holds.
      - A REPLY answers the request whose address frame it echoes. To a
        worker with credit K > 1 the broker sends as the address frame the
        client's routing id followed by a 4-byte tag of its own (so the
        frame is opaque, as 7/MDP already says: echo it byte for byte);
        replies may come in any order. A plain worker gets the client's
        routing id alone, as the RFC shows. A REPLY whose address matches
        nothing the worker holds is unexpected: DISCONNECT.
      - When a worker dies (DISCONNECT, silent past the heartbeat expiry,
        or unreachable) the broker requeues every request it held, in the
        order they were first sent, ahead of requests never sent.
        Requests that reach a worker after it said DISCONNECT are the
        broker's to requeue: the worker drops them unanswered.
      - Heartbeats, liveness, DISCONNECT, 8/MMI and the client protocol
        are unchanged.

    Compatibility. Any RFC 7/MDP worker works with our broker unchanged
    (no credit frame: one request at a time, plain addresses). Our worker
    runtime announces credit only when asked for more than 1 (the service
    runtime does; the test worker and en_worker_new do not); to another
    7/MDP broker a credit READY is a READY with a frame too many: the
    zguide's reference broker ignores the frame (credit 1), a strict one
    may refuse it, so run such workers with credit 1 there.

    Choosing the next worker. A request goes to the worker with credit to
    spare that holds fewest requests, the longest waiting among equals:
    idle workers (other replicas, other connections) come before extra
    credit, so credit only adds requests to a worker when every worker
    holds some. */
#ifndef EN_MDP_H
#define EN_MDP_H

#define MDPC_CLIENT "MDPC01"
#define MDPW_WORKER "MDPW01"

#define MDPW_READY 0x01
#define MDPW_REQUEST 0x02
#define MDPW_REPLY 0x03
#define MDPW_HEARTBEAT 0x04
#define MDPW_DISCONNECT 0x05

//  The most credit a broker grants one worker connection.
#define EN_MDP_CREDIT_MAX 256

#define EN_HEARTBEAT_MS 2500
#define EN_HEARTBEAT_LIVENESS 3
#define EN_HEARTBEAT_EXPIRY (EN_HEARTBEAT_MS * EN_HEARTBEAT_LIVENESS)

//  The public service every client calls.
#define EN_PUBLIC_SERVICE "environ.v1"

//  Largest request body the bus accepts (a stated limit: bigger requests
//  get a NOT_VALID reply).
#define EN_MAX_BODY (4 * 1024 * 1024)
//  Largest reply body. A listing grows with the cloud (AllInstances of a
//  model of 10,000 instances is ~3.3 MB, ~330 bytes an instance), so
//  replies have their own, larger limit; a service answers NOT_SUPPORTED
//  rather than send more (en_dispatcher_handle).
#define EN_MAX_REPLY_BODY (64 * 1024 * 1024)
//  ZMQ_MAXMSGSIZE, a little above the body limits, so that a peer that
//  sends far more is disconnected by libzmq before we ever buffer it. A
//  worker's socket receives only requests; a client's receives replies;
//  the gateway's ROUTER receives both, so it takes the reply limit and
//  refuses requests over EN_MAX_BODY itself (en_request_unpack).
#define EN_MAX_WIRE_MSG (EN_MAX_BODY + 64 * 1024)
#define EN_MAX_WIRE_REPLY (EN_MAX_REPLY_BODY + 64 * 1024)

//  A request queued for a service with no free worker waits at most this
//  long when it carries no deadline of its own.
#define EN_QUEUE_TIMEOUT_MS 30000

#endif
