"""The Realtime door: OpenAI's Realtime protocol (``WS /v1/realtime``) as an adapter over the
service layer's conversation turn. config: the session's settings; events: the protocol's names
and the error event; items: the conversation; response: one response's events; session: the
state machine. The route is ``server/routes/realtime_ws.py``."""
