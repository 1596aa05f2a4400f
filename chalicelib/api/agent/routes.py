"""`/agent/v1`: a desktop's agent registers with its one-time token, then reports session events."""

from __future__ import annotations

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

router = Router("/agent/v1", "Agent", schemas="chalicelib.schemas.agent")


@router.route("POST", "/register", access=Access.PUBLIC, body="AgentRegister", response="AgentRegistered",
              status=201, summary="Exchange the desktop's one-time registration token for its agent token",
              responses={401: "Unknown desktop, or a wrong, expired or already used registration token"})
def agent_register(request: ApiRequest) -> Reply:
    from chalicelib.schemas import agent as schemas
    from chalicelib.services import agents
    registered = agents.register(request.body, request.source_ip)
    return Reply(schemas.AgentRegistered(**registered), status=201, headers={"Cache-Control": "no-store"})


@router.route("POST", "/events", access=Access.AGENT, body="AgentEvent", response="AgentEventReply",
              summary="Report a session event or a heartbeat; the reply may carry a command for the agent "
                      "and a new agent token")
def agent_event(request: ApiRequest) -> Reply:
    from chalicelib.schemas import agent as schemas
    from chalicelib.services import agents
    reply = schemas.AgentEventReply.model_validate(agents.report_event(request.who, request.body))
    return Reply(reply, headers={"Cache-Control": "no-store"})
