/*  mdp.h — constants of 7/MDP (MDP/0.1) and 8/MMI, and our bus limits.

    Frames on the broker's ROUTER (routing id first, added by ZeroMQ):
      client  REQUEST  [id][""]["MDPC01"][service][body]
      broker  REPLY    [id][""]["MDPC01"][service][body]
      worker  READY    [id][""]["MDPW01"][0x01][service]
      broker  REQUEST  [id][""]["MDPW01"][0x02][client][""][body]
      worker  REPLY    [id][""]["MDPW01"][0x03][client][""][body]
      either  HEARTBEAT[id][""]["MDPW01"][0x04]
      either  DISCONNECT[id][""]["MDPW01"][0x05]
    Our bodies are exactly one frame: a packed en.Request or en.Reply. */
#ifndef EN_MDP_H
#define EN_MDP_H

#define MDPC_CLIENT "MDPC01"
#define MDPW_WORKER "MDPW01"

#define MDPW_READY 0x01
#define MDPW_REQUEST 0x02
#define MDPW_REPLY 0x03
#define MDPW_HEARTBEAT 0x04
#define MDPW_DISCONNECT 0x05

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
